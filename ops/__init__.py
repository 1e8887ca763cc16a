"""Aletheia's server tool. Standard library only: it runs on a bare server's python3."""
