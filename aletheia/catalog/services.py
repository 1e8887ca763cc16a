"""Writes: syncing profiles and availability from Doctolib, and opening/resolving divergences.

Every profile is fetched first (HTTP, outside any transaction) then written in one
transaction: a profile is never half-written. Writes are diffs: rows are read once per model,
compared in Python, and only what changed is written (bulk), so a second sync of unchanged
data writes nothing and the number of queries per profile does not grow with its size.
"""

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from aletheia.catalog.models import (
    Agenda,
    AvailabilitySnapshot,
    Divergence,
    Expectation,
    Place,
    Practitioner,
    Speciality,
    SyncResult,
    SyncRun,
    TrackedProfile,
    VisitMotive,
)
from aletheia.doctolib.client import AvailabilityWindow, DoctolibClient
from aletheia.doctolib.errors import Blocked, CircuitOpen, DoctolibError, ProfileGone
from aletheia.doctolib.parsing import PARIS, Booking

logger = logging.getLogger(__name__)
HORIZON_DAYS = 28
PROFILE_KINDS = {
    Divergence.Kind.PROFILE_GONE,
    Divergence.Kind.PRACTITIONER_MISSING,
    Divergence.Kind.BOOKING_DISABLED,
    Divergence.Kind.MOTIVE_CLOSED_TO_NEW,
}
AVAILABILITY_KINDS = {Divergence.Kind.AGENDA_CLOSED}


@dataclass
class ProfileOutcome:
    profile: TrackedProfile
    ok: bool
    changes: int = 0
    requests: int = 0
    seconds: float = 0.0
    error: str = ""
    blocked: bool = False


# --- generic diff-and-write ----------------------------------------------------------------


def _sync_scoped_rows(
    model: Any, profile: TrackedProfile, desired: dict[int, dict[str, Any]]
) -> tuple[dict[int, Any], int]:
    """Make `model`'s rows for `profile` match `desired` (doctolib_id -> field values).

    Rows no longer desired are kept with present=False. Returns rows by doctolib id and the
    number of rows created or changed.
    """
    existing: dict[int, Any] = {
        row.doctolib_id: row for row in model.objects.filter(profile=profile)
    }
    to_create, to_update = [], []
    changed_fields: set[str] = set()
    for doctolib_id, values in desired.items():
        values = {**values, "present": True}
        row = existing.get(doctolib_id)
        if row is None:
            to_create.append(model(profile=profile, doctolib_id=doctolib_id, **values))
            continue
        diff = {k: v for k, v in values.items() if getattr(row, k) != v}
        if diff:
            for key, value in diff.items():
                setattr(row, key, value)
            changed_fields.update(diff)
            to_update.append(row)
    gone = [
        row for doctolib_id, row in existing.items() if doctolib_id not in desired and row.present
    ]
    for row in gone:
        row.present = False
    if to_create:
        for row in model.objects.bulk_create(to_create):
            existing[row.doctolib_id] = row
    if to_update:
        model.objects.bulk_update(to_update, sorted(changed_fields))
    if gone:
        model.objects.filter(pk__in=[r.pk for r in gone]).update(present=False)
    return existing, len(to_create) + len(to_update) + len(gone)


def _sync_specialities(booking: Booking) -> tuple[dict[int, Speciality], int]:
    wanted = {s.doctolib_id: s.name for s in booking.specialities}
    existing = {s.doctolib_id: s for s in Speciality.objects.filter(doctolib_id__in=wanted)}
    new = [Speciality(doctolib_id=i, name=n) for i, n in wanted.items() if i not in existing]
    renamed = [s for i, s in existing.items() if s.name != wanted[i]]
    for speciality in renamed:
        speciality.name = wanted[speciality.doctolib_id]
    if new:
        # shared by every profile: a concurrent sync may insert the same one first
        Speciality.objects.bulk_create(new, ignore_conflicts=True)
        existing = {s.doctolib_id: s for s in Speciality.objects.filter(doctolib_id__in=wanted)}
    if renamed:
        Speciality.objects.bulk_update(renamed, ["name"])
    return existing, len(new) + len(renamed)


def _update_fields(instance: models.Model, **values: Any) -> int:
    diff = {k: v for k, v in values.items() if getattr(instance, k) != v}
    if not diff:
        return 0
    for key, value in diff.items():
        setattr(instance, key, value)
    instance.save(update_fields=list(diff))
    return 1


# --- divergences ------------------------------------------------------------------------


def divergences_reconcile(
    *,
    profile: TrackedProfile,
    kinds: Iterable[str],
    current: dict[tuple[Any, str], str],
    now: datetime,
) -> int:
    """Open what is newly divergent, resolve what no longer is, within `kinds`.

    `current` maps (kind, subject) -> human detail for everything divergent right now.
    """
    open_rows = {
        (d.kind, d.subject): d
        for d in Divergence.objects.filter(
            profile=profile, kind__in=kinds, resolved_at__isnull=True
        )
    }
    to_open = [
        Divergence(profile=profile, kind=kind, subject=subject, detail=detail[:500], opened_at=now)
        for (kind, subject), detail in current.items()
        if (kind, subject) not in open_rows
    ]
    to_resolve = [d.pk for key, d in open_rows.items() if key not in current]
    if to_open:
        Divergence.objects.bulk_create(to_open)
    if to_resolve:
        Divergence.objects.filter(pk__in=to_resolve).update(resolved_at=now)
    return len(to_open) + len(to_resolve)


def _catalog_divergences(
    profile: TrackedProfile,
    practitioners: dict[int, Practitioner],
    motives: dict[int, VisitMotive],
    agendas: dict[int, Agenda],
) -> dict[tuple[Any, str], str]:
    current: dict[tuple[Any, str], str] = {}
    for expectation in Expectation.objects.filter(profile=profile):
        label = expectation.label or str(expectation.doctolib_id)
        if expectation.kind == Expectation.Kind.PRACTITIONER_LISTED:
            practitioner = practitioners.get(expectation.doctolib_id)
            if practitioner is None or not practitioner.present:
                current[
                    (
                        Divergence.Kind.PRACTITIONER_MISSING,
                        f"practitioner:{expectation.doctolib_id}",
                    )
                ] = f"{label} is not listed on the Doctolib page"
        elif expectation.kind == Expectation.Kind.MOTIVE_OPEN_TO_NEW:
            motive = motives.get(expectation.doctolib_id)
            if motive is None or not motive.present or not motive.allow_new_patients:
                state = (
                    "missing" if motive is None or not motive.present else "closed to new patients"
                )
                current[
                    (Divergence.Kind.MOTIVE_CLOSED_TO_NEW, f"motive:{expectation.doctolib_id}")
                ] = f"{motive.name if motive else label}: {state}"
    for agenda in agendas.values():
        if agenda.present and (agenda.booking_disabled or agenda.booking_temporary_disabled):
            who = (
                agenda.practitioner.name if agenda.practitioner else f"agenda {agenda.doctolib_id}"
            )
            current[(Divergence.Kind.BOOKING_DISABLED, f"agenda:{agenda.doctolib_id}")] = (
                f"{who}: online booking disabled"
            )
    return current


# --- profile sync -------------------------------------------------------------------------


@transaction.atomic
def catalog_apply(*, profile: TrackedProfile, booking: Booking, now: datetime) -> int:
    """Write what the booking page shows; open/resolve catalog divergences. Returns changes."""
    specialities, changes = _sync_specialities(booking)
    changes += _update_fields(
        profile,
        doctolib_id=booking.profile_id,
        name=booking.name[:300],
        speciality_name=booking.speciality_name[:200],
        status=TrackedProfile.Status.OK,
        last_error="",
    )
    places, n = _sync_scoped_rows(
        Place,
        profile,
        {
            p.practice_id: {
                "name": p.name[:300],
                "address": p.address[:300],
                "zipcode": p.zipcode[:20],
                "city": p.city[:100],
                "latitude": p.latitude,
                "longitude": p.longitude,
            }
            for p in booking.places
        },
    )
    changes += n
    practitioners, n = _sync_scoped_rows(
        Practitioner,
        profile,
        {
            p.doctolib_id: {
                "name": p.name_with_title[:300],
                "speciality_name": p.speciality_name[:200],
            }
            for p in booking.practitioners
        },
    )
    changes += n
    motives, n = _sync_scoped_rows(
        VisitMotive,
        profile,
        {
            m.doctolib_id: {
                "name": m.name[:300],
                "speciality_id": specialities[m.speciality_id].pk
                if m.speciality_id in specialities
                else None,
                "ref_visit_motive_id": m.ref_visit_motive_id,
                "allow_new_patients": m.allow_new_patients,
                "telehealth": m.telehealth,
                "position": m.position,
            }
            for m in booking.visit_motives
        },
    )
    changes += n

    def pk_of(rows: dict[int, Any], doctolib_id: int | None) -> int | None:
        row = rows.get(doctolib_id) if doctolib_id is not None else None
        return row.pk if row is not None else None

    agendas, n = _sync_scoped_rows(
        Agenda,
        profile,
        {
            a.doctolib_id: {
                "practitioner_id": pk_of(practitioners, a.practitioner_id),
                "speciality_id": pk_of(specialities, a.speciality_id),
                "place_id": pk_of(places, a.practice_id),
                "booking_disabled": a.booking_disabled,
                "booking_temporary_disabled": a.booking_temporary_disabled,
                "motive_ids": list(a.visit_motive_ids),
            }
            for a in booking.agendas
        },
    )
    changes += n
    practitioners_by_pk = {p.pk: p for p in practitioners.values()}
    for agenda in agendas.values():  # so divergence details can name the practitioner
        agenda.practitioner = practitioners_by_pk.get(agenda.practitioner_id)
    changes += divergences_reconcile(
        profile=profile,
        kinds=PROFILE_KINDS,
        current=_catalog_divergences(profile, practitioners, motives, agendas),
        now=now,
    )
    return changes


@transaction.atomic
def profile_mark_gone(*, profile: TrackedProfile, error: ProfileGone, now: datetime) -> int:
    changes = _update_fields(profile, status=TrackedProfile.Status.GONE, last_error=str(error))
    return changes + divergences_reconcile(
        profile=profile,
        kinds={Divergence.Kind.PROFILE_GONE},
        current={(Divergence.Kind.PROFILE_GONE, "profile"): f"Doctolib answers {error.status}"},
        now=now,
    )


def profile_sync(*, profile: TrackedProfile, client: DoctolibClient, now: datetime) -> int:
    """Fetch the booking page and write it. Raises DoctolibError subclasses."""
    try:
        booking = client.booking(profile.slug)
    except ProfileGone as exc:
        profile_mark_gone(profile=profile, error=exc, now=now)
        raise
    return catalog_apply(profile=profile, booking=booking, now=now)


# --- availability sync --------------------------------------------------------------------


def snapshot_from_window(window: AvailabilityWindow, *, now: datetime) -> dict[str, Any]:
    """Figures for a window; slots already past (earlier today) do not count."""
    today = now.astimezone(PARIS).date()
    upcoming = [s for s in window.slots if s >= now]

    def count(days: int) -> int:
        limit = today + timedelta(days=days)
        return sum(1 for s in upcoming if s.astimezone(PARIS).date() < limit)

    next_slot = upcoming[0] if upcoming else None
    if upcoming:
        status = AvailabilitySnapshot.Status.OPEN
    elif window.reason == "not_opened_availability":
        status = AvailabilitySnapshot.Status.CLOSED
    elif window.next_slot and window.next_slot >= now and not window.slots:
        status, next_slot = AvailabilitySnapshot.Status.LATER, window.next_slot
    else:
        status = AvailabilitySnapshot.Status.NONE
    return {
        "status": status,
        "next_slot": next_slot,
        "slots_7": count(7),
        "slots_14": count(14),
        "slots_28": count(HORIZON_DAYS),
    }


def availability_sync(
    *, profile: TrackedProfile, client: DoctolibClient, now: datetime, run: SyncRun | None = None
) -> int:
    """Ask Doctolib for each bookable agenda x motive, one agenda per request (one closed
    agenda would hide the others' slots); store snapshots that differ from the last one."""
    agendas = list(
        Agenda.objects.filter(profile=profile, present=True, booking_disabled=False).order_by(
            "doctolib_id"
        )
    )
    motives = {m.doctolib_id: m for m in VisitMotive.objects.filter(profile=profile, present=True)}
    place_practice = dict(Place.objects.filter(profile=profile).values_list("pk", "doctolib_id"))
    start = now.astimezone(PARIS).date()
    observed: dict[tuple[int, int], dict[str, Any]] = {}
    for agenda in agendas:
        for motive_id in agenda.motive_ids:
            motive = motives.get(motive_id)
            if motive is None:
                continue
            window = client.availability_window(
                agenda_id=agenda.doctolib_id,
                motive_id=motive_id,
                practice_id=place_practice.get(agenda.place_id) if agenda.place_id else None,
                start=start,
                horizon_days=HORIZON_DAYS,
            )
            observed[(agenda.pk, motive.pk)] = snapshot_from_window(window, now=now)
    return snapshots_apply(profile=profile, observed=observed, now=now, run=run, agendas=agendas)


@transaction.atomic
def snapshots_apply(
    *,
    profile: TrackedProfile,
    observed: dict[tuple[int, int], dict[str, Any]],
    now: datetime,
    run: SyncRun | None,
    agendas: list[Agenda],
) -> int:
    latest = {
        (s.agenda_id, s.motive_id): s
        for s in AvailabilitySnapshot.objects.filter(agenda__profile=profile, is_latest=True)
    }
    new, superseded = [], []
    for (agenda_pk, motive_pk), figures in observed.items():
        candidate = AvailabilitySnapshot(
            agenda_id=agenda_pk, motive_id=motive_pk, sync_run=run, taken_at=now, **figures
        )
        previous = latest.get((agenda_pk, motive_pk))
        if previous is not None and previous.same_figures(candidate):
            continue
        if previous is not None:
            superseded.append(previous.pk)
        new.append(candidate)
    if superseded:
        AvailabilitySnapshot.objects.filter(pk__in=superseded).update(is_latest=False)
    if new:
        AvailabilitySnapshot.objects.bulk_create(new)
    by_pk = {a.pk: a for a in agendas}
    closed = {
        (Divergence.Kind.AGENDA_CLOSED, f"agenda:{by_pk[agenda_pk].doctolib_id}"): (
            f"agenda {by_pk[agenda_pk].doctolib_id}: not opened for booking"
        )
        for (agenda_pk, _), figures in observed.items()
        if figures["status"] == AvailabilitySnapshot.Status.CLOSED
    }
    return len(new) + divergences_reconcile(
        profile=profile, kinds=AVAILABILITY_KINDS, current=closed, now=now
    )


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    """A clock that always says `moment` (replaying history, demo data)."""
    return lambda: moment


# --- runs -------------------------------------------------------------------------------


def profile_run_one(
    *, profile: TrackedProfile, kind: str, client: DoctolibClient, now: datetime
) -> ProfileOutcome:
    """Sync one profile for a run of `kind`; Doctolib errors become the outcome's error."""
    started, requests_before = time.monotonic(), client.requests_sent
    outcome = ProfileOutcome(profile=profile, ok=True)
    try:
        if kind in (SyncRun.Kind.PROFILES, SyncRun.Kind.FULL):
            outcome.changes += profile_sync(profile=profile, client=client, now=now)
        if kind in (SyncRun.Kind.AVAILABILITIES, SyncRun.Kind.FULL):
            outcome.changes += availability_sync(profile=profile, client=client, now=now)
    except (Blocked, CircuitOpen) as exc:
        outcome.ok, outcome.error, outcome.blocked = False, str(exc), isinstance(exc, CircuitOpen)
    except DoctolibError as exc:
        outcome.ok, outcome.error = False, str(exc)
        if not isinstance(exc, ProfileGone):
            _update_fields(profile, status=TrackedProfile.Status.ERROR, last_error=str(exc))
    except Exception as exc:  # a bug must fail this profile, not stall the whole run
        logger.exception("sync of %s failed unexpectedly", profile.slug)
        outcome.ok, outcome.error = False, f"internal error: {type(exc).__name__}: {exc}"
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
    profiles: list[TrackedProfile],
    client: DoctolibClient,
    now: Callable[[], datetime] = timezone.now,
    on_profile: Callable[[ProfileOutcome], None] | None = None,
) -> SyncRun:
    """Run a whole sync in this process, profile after profile; stops when the circuit opens."""
    run = sync_run_start(kind=kind, profiles_total=len(profiles), now=now())
    for profile in profiles:
        outcome = profile_run_one(profile=profile, kind=kind, client=client, now=now())
        sync_result_record(run, outcome)
        if on_profile:
            on_profile(outcome)
        if outcome.blocked:
            break
    return sync_run_finish(run=run, now=now())
