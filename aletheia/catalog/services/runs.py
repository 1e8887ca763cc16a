"""Runs: one sync over many centres, each centre's outcome, and the run's totals."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from aletheia.catalog.models import Centre, SyncResult, SyncRun
from aletheia.catalog.services.availability import availability_sync
from aletheia.catalog.services.catalog import profile_sync
from aletheia.catalog.services.diff import fields_update
from aletheia.catalog.services.state import Failure, centre_state_refresh
from aletheia.doctolib.client import DoctolibClient
from aletheia.doctolib.errors import Blocked, CircuitOpen, DoctolibError, ProfileGone

logger = logging.getLogger(__name__)


@dataclass
class ProfileOutcome:
    profile: Centre
    ok: bool
    changes: int = 0
    requests: int = 0
    seconds: float = 0.0
    error: str = ""
    blocked: bool = False


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    """A clock that always says `moment` (replaying history, demo data, tests)."""
    return lambda: moment


def profile_run_one(
    *,
    profile: Centre,
    kind: str,
    client: DoctolibClient,
    now: datetime,
    run: SyncRun | None = None,
) -> ProfileOutcome:
    """Sync one centre for a run of `kind`; Doctolib errors become the outcome's error and the
    centre's state. A centre not even tried (the circuit was already open) keeps its state."""
    started, requests_before = time.monotonic(), client.requests_sent
    outcome = ProfileOutcome(profile=profile, ok=True)
    failure: Failure | None = None
    tried = True
    try:
        if kind in (SyncRun.Kind.PROFILES, SyncRun.Kind.FULL):
            outcome.changes += profile_sync(profile=profile, client=client, now=now)
        if kind in (SyncRun.Kind.AVAILABILITIES, SyncRun.Kind.FULL):
            outcome.changes += availability_sync(profile=profile, client=client, now=now, run=run)
    except (Blocked, CircuitOpen) as exc:
        outcome.ok, outcome.error, outcome.blocked = False, str(exc), isinstance(exc, CircuitOpen)
        tried = client.requests_sent > requests_before
        if not tried:
            outcome.error = f"not synced: {exc}"
        failure = Failure(Centre.State.BLOCKED, str(exc))
    except DoctolibError as exc:
        outcome.ok, outcome.error = False, str(exc)
        gone = isinstance(exc, ProfileGone)
        if not gone:
            fields_update(profile, status=Centre.Status.ERROR, last_error=str(exc))
        failure = Failure(Centre.State.GONE if gone else Centre.State.ERROR, str(exc))
    except Exception as exc:  # a bug must fail this centre, not stall the whole run
        logger.exception("sync of %s failed unexpectedly", profile.slug)
        outcome.ok, outcome.error = False, f"internal error: {type(exc).__name__}: {exc}"
        failure = Failure(Centre.State.ERROR, outcome.error)
    if tried:
        centre_state_refresh(centre=profile, now=now, failure=failure)
    outcome.requests = client.requests_sent - requests_before
    outcome.seconds = round(time.monotonic() - started, 3)
    return outcome


def sync_result_record(run: SyncRun, outcome: ProfileOutcome) -> None:
    SyncResult.objects.create(
        run=run,
        profile=outcome.profile,
        ok=outcome.ok,
        error=outcome.error,
        blocked=outcome.blocked,
        changes=outcome.changes,
        requests=outcome.requests,
        seconds=outcome.seconds,
    )


def sync_run_start(*, kind: str, profiles_total: int, now: datetime | None = None) -> SyncRun:
    return SyncRun.objects.create(
        kind=kind, started_at=now or timezone.now(), profiles_total=profiles_total
    )


def sync_run_finish(*, run: SyncRun, now: datetime | None = None) -> SyncRun:
    """Totals from the recorded results; status says how it went."""
    results = list(SyncResult.objects.filter(run=run))
    run.profiles_ok = sum(r.ok for r in results)
    run.profiles_failed = sum(not r.ok for r in results)
    run.requests = sum(r.requests for r in results)
    run.changes = sum(r.changes for r in results)
    blocked = [r for r in results if r.blocked]
    if blocked:
        run.status = SyncRun.Status.BLOCKED
        skipped = run.profiles_total - len(results)
        run.message = f"{blocked[0].error} Stopped: {skipped} profile(s) not synced."
    elif run.profiles_failed and run.profiles_ok:
        run.status = SyncRun.Status.PARTIAL
    elif run.profiles_failed:
        run.status = SyncRun.Status.FAILED
    else:
        run.status = SyncRun.Status.SUCCEEDED
    run.finished_at = now or timezone.now()
    run.save()
    return run


def sync_run_execute(
    *,
    kind: str,
    profiles: list[Centre],
    client: DoctolibClient,
    now: Callable[[], datetime] = timezone.now,
    on_profile: Callable[[ProfileOutcome], None] | None = None,
) -> SyncRun:
    """Run a whole sync in this process, centre after centre; stops when the circuit opens."""
    run = sync_run_start(kind=kind, profiles_total=len(profiles), now=now())
    for profile in profiles:
        outcome = profile_run_one(profile=profile, kind=kind, client=client, now=now(), run=run)
        sync_result_record(run, outcome)
        if on_profile:
            on_profile(outcome)
        if outcome.blocked:
            break
    return sync_run_finish(run=run, now=now())
