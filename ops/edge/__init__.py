"""The edge: nginx configs rendered per environment, activated with nginx -t and a reload
that puts the previous config back when it fails.

Layer 3: may import ops.core, ops.server, ops.steps.
"""
