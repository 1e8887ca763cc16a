"""Availability: slots per agenda x motive, kept as snapshots that change only on change."""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from aletheia.catalog.models import (
    Agenda,
    AvailabilitySnapshot,
    Centre,
    Place,
    SyncRun,
    VisitMotive,
)
from aletheia.catalog.services.divergences import (
    AVAILABILITY_KINDS,
    closed_agenda_divergences,
    divergences_reconcile,
)
from aletheia.doctolib.client import AvailabilityWindow, DoctolibClient
from aletheia.doctolib.parsing import PARIS

HORIZON_DAYS = 28


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
    *, profile: Centre, client: DoctolibClient, now: datetime, run: SyncRun | None = None
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
    profile: Centre,
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
    closed = closed_agenda_divergences(observed, agendas, AvailabilitySnapshot.Status.CLOSED)
    return len(new) + divergences_reconcile(
        profile=profile, kinds=AVAILABILITY_KINDS, current=closed, now=now
    )
