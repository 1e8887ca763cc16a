"""Data: pg_dump backups with checksums and retention, and the restore flow.

Layer 5: may import the layers below (core … runtimes).
"""
