"""Availability: slots per agenda x motive, kept as snapshots that change only on change."""

from collections.abc import Iterable
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


STATUS_RANK: dict[str, int] = {
    AvailabilitySnapshot.Status.OPEN: 0,
    AvailabilitySnapshot.Status.LATER: 1,
    AvailabilitySnapshot.Status.NONE: 2,
    AvailabilitySnapshot.Status.CLOSED: 3,
}


def count_within(slots: Iterable[datetime], *, now: datetime, days: int) -> int:
    """Slots from `now` to the end of the `days`-th day (Paris), today being day 1."""
    limit = now.astimezone(PARIS).date() + timedelta(days=days)
    return sum(1 for s in slots if s >= now and s.astimezone(PARIS).date() < limit)


def snapshot_from_window(window: AvailabilityWindow, *, now: datetime) -> dict[str, Any]:
    """Figures for a window; slots already past (earlier today) do not count."""
    upcoming = [s for s in window.slots if s >= now]

    def count(days: int) -> int:
        return count_within(upcoming, now=now, days=days)

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
    present = list(
        Agenda.objects.filter(profile=profile, present=True)
        .select_related("practitioner")
        .order_by("doctolib_id")
    )
    agendas = [a for a in present if not a.booking_disabled]
    motives = {m.doctolib_id: m for m in VisitMotive.objects.filter(profile=profile, present=True)}
    place_practice = dict(Place.objects.filter(profile=profile).values_list("pk", "doctolib_id"))
    start = now.astimezone(PARIS).date()
    observed: dict[tuple[int, int], dict[str, Any]] = {}
    capacity: dict[int, AgendaCapacity] = {a.pk: AgendaCapacity() for a in present}
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
            figures = snapshot_from_window(window, now=now)
            observed[(agenda.pk, motive.pk)] = figures
            capacity[agenda.pk].add(window, figures, new_patients=motive.allow_new_patients)
    with transaction.atomic():
        changes = snapshots_apply(
            profile=profile, observed=observed, now=now, run=run, agendas=agendas
        )
        agenda_capacity_apply(present, capacity, now=now)
    return changes


class AgendaCapacity:
    """One agenda's true capacity: the distinct slots of all its motives, not their sum."""

    def __init__(self) -> None:
        self.slots: set[datetime] = set()
        self.new_patient_slots: set[datetime] = set()
        self.statuses: list[str] = []
        self.later: list[datetime] = []

    def add(
        self, window: AvailabilityWindow, figures: dict[str, Any], *, new_patients: bool
    ) -> None:
        self.slots.update(window.slots)
        if new_patients:
            self.new_patient_slots.update(window.slots)
        self.statuses.append(figures["status"])
        if figures["next_slot"] is not None:
            self.later.append(figures["next_slot"])

    def fields(self, now: datetime) -> dict[str, Any]:
        upcoming = sorted(s for s in self.slots if s >= now)
        return {
            "availability": min(self.statuses, key=STATUS_RANK.__getitem__)
            if self.statuses
            else "",
            "next_slot": upcoming[0] if upcoming else min(self.later, default=None),
            "slots_7": count_within(upcoming, now=now, days=7),
            "slots_28": count_within(upcoming, now=now, days=HORIZON_DAYS),
            "new_patient_slots_7": count_within(self.new_patient_slots, now=now, days=7),
        }


def agenda_capacity_apply(
    agendas: list[Agenda], capacity: dict[int, AgendaCapacity], *, now: datetime
) -> None:
    """Write each agenda's capacity where it changed (agendas not asked: empty)."""
    changed: list[Agenda] = []
    names: set[str] = set()
    for agenda in agendas:
        values = capacity[agenda.pk].fields(now)
        diff = {k: v for k, v in values.items() if getattr(agenda, k) != v}
        if diff:
            for key, value in diff.items():
                setattr(agenda, key, value)
            changed.append(agenda)
            names.update(diff)
    if changed:
        Agenda.objects.bulk_update(changed, sorted(names))


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
