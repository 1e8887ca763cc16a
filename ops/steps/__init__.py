"""Building blocks of every flow: pure functions that build git/docker/compose commands, and
the attempt (lock, log entry, recovery on failure and on signals) that wraps a deploy, rollback or
restore.

Layer 2: may import ops.core and ops.server.
"""
