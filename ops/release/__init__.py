"""Releases: which refs an environment deploys, building release images, and the deploy and
rollback flows read top to bottom.

Layer 6: may import the layers below (core … data).
"""
