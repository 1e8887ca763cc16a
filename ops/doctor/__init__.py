"""`make doctor`: small read-only checks per environment and a pass/fail table.

Layer 7: may import the layers below (core … release).
"""
