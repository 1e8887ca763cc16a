"""Writes: syncing centres and availability from Doctolib, opening/resolving divergences.

One module per concern:

- `diff`: the generic diff-and-write (read once per model, compare in Python, bulk-write
  only what changed);
- `divergences`: the rules that say where Doctolib differs from what the group expects;
- `catalog`: a centre's booking page (places, practitioners, motives, agendas);
- `availability`: slots per agenda x motive, and the snapshots kept of them;
- `state`: a centre's state (ok, full, closed, blocked…) decided at each sync, its history;
- `runs`: one sync run over many centres, and its bookkeeping.

Every centre is fetched first (HTTP, outside any transaction) then written in one
transaction: a centre is never half-written. The names below are the package's public API.
"""

from aletheia.catalog.services.availability import (
    HORIZON_DAYS,
    availability_sync,
    snapshot_from_window,
    snapshots_apply,
)
from aletheia.catalog.services.catalog import catalog_apply, profile_mark_gone, profile_sync
from aletheia.catalog.services.divergences import divergences_reconcile
from aletheia.catalog.services.runs import (
    ProfileOutcome,
    fixed_clock,
    profile_run_one,
    sync_result_record,
    sync_run_execute,
    sync_run_finish,
    sync_run_start,
)
from aletheia.catalog.services.state import centre_state_refresh, state_decide

__all__ = [
    "HORIZON_DAYS",
    "ProfileOutcome",
    "availability_sync",
    "catalog_apply",
    "centre_state_refresh",
    "divergences_reconcile",
    "fixed_clock",
    "profile_mark_gone",
    "profile_run_one",
    "profile_sync",
    "snapshot_from_window",
    "snapshots_apply",
    "state_decide",
    "sync_result_record",
    "sync_run_execute",
    "sync_run_finish",
    "sync_run_start",
]
