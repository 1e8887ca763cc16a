"""First-time setup and isolation: `make server-init`, the PostgreSQL roles and Redis users that
keep environments apart (pure builders in isolation.py, applied by isolation_setup.py).

Layer 8: may import the layers below (core … doctor).
"""
