"""Running things and their records: the one runner that executes commands (echo, steps with
timings, --dry-run, pipes), the per-environment lock, and the release log (JSON lines).

Layer 0: imports nothing from ops.
"""
