"""A centre's state (ok, full, closed, blocked, error, gone, never synced), decided at each
sync from what was just written, and kept with its history and a row per day.

`state_decide` holds the rules and does no I/O; `centre_state_refresh` reads the centre's
agendas, decides, and writes the one row per centre the overview reads.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from aletheia.alerts.services import state_change_record
from aletheia.catalog.models import (
    Agenda,
    AvailabilitySnapshot,
    Centre,
    CentreDay,
    CentreStateChange,
    Divergence,
    Place,
)
from aletheia.catalog.selectors import DATA_VERSION_KEY
from aletheia.catalog.services.diff import fields_update
from aletheia.doctolib.parsing import PARIS

State = Centre.State


def data_changed() -> None:
    """What the pages show changed: cached renderings keyed on the data version expire."""
    if not cache.add(DATA_VERSION_KEY, 1, None):
        try:
            cache.incr(DATA_VERSION_KEY)
        except ValueError:  # evicted between add and incr
            cache.add(DATA_VERSION_KEY, 1, None)


# Centre.state_detail for a closed centre (rendered in the reader's language)
CLOSED_NO_AGENDA = "no_agenda"
CLOSED_BOOKING_DISABLED = "booking_disabled"
CLOSED_NOT_OPENED = "not_opened"


@dataclass(frozen=True)
class AgendaFigures:
    bookable: bool  # listed, online booking enabled
    availability: str  # the best AvailabilitySnapshot.Status over its motives; "" if not asked
    next_slot: datetime | None
    full_after_days: int


@dataclass(frozen=True)
class Failure:
    state: str  # State.BLOCKED, State.ERROR or State.GONE
    detail: str


@dataclass(frozen=True)
class Decision:
    state: str
    detail: str = ""
    full_after_days: int = 14


def state_decide(
    *, synced: bool, failure: Failure | None, agendas: list[AgendaFigures], now: datetime
) -> Decision:
    """The rules, worst first: a failed sync says why; then closed, full, ok."""
    default = settings.ALETHEIA_FULL_AFTER_DAYS
    if failure is not None:
        return Decision(failure.state, failure.detail[:300], default)
    if not synced:
        return Decision(State.NEVER, "", default)
    if not agendas:
        return Decision(State.CLOSED, CLOSED_NO_AGENDA, default)
    bookable = [a for a in agendas if a.bookable]
    if not bookable:
        return Decision(State.CLOSED, CLOSED_BOOKING_DISABLED, default)
    asked = [a for a in bookable if a.availability]
    if not asked:  # only the catalog was synced so far: nothing to say about slots
        return Decision(State.OK, "", default)
    opened = [a for a in asked if a.availability != AvailabilitySnapshot.Status.CLOSED]
    if not opened:
        return Decision(State.CLOSED, CLOSED_NOT_OPENED, default)
    threshold = min(a.full_after_days for a in opened)
    if any(
        a.next_slot is not None and a.next_slot < now + timedelta(days=a.full_after_days)
        for a in opened
    ):
        return Decision(State.OK, "", threshold)
    return Decision(State.FULL, "", threshold)


def centre_state_refresh(
    *, centre: Centre, now: datetime, failure: Failure | None = None
) -> tuple[str, str]:
    """Decide the centre's state, write its summary row, history and day. Returns (previous
    state, new state)."""
    agendas = list(Agenda.objects.filter(profile=centre, present=True).select_related("speciality"))
    default = settings.ALETHEIA_FULL_AFTER_DAYS
    decision = state_decide(
        synced=centre.status != Centre.Status.NEW or failure is not None,
        failure=failure,
        agendas=[
            AgendaFigures(
                bookable=not (a.booking_disabled or a.booking_temporary_disabled),
                availability=a.availability,
                next_slot=a.next_slot,
                full_after_days=(a.speciality.full_after_days if a.speciality else None) or default,
            )
            for a in agendas
        ],
        now=now,
    )
    bookable = [a for a in agendas if not a.booking_disabled]
    next_slots = [a.next_slot for a in bookable if a.next_slot and a.next_slot >= now]
    previous = centre.state
    values = {
        "state": decision.state,
        "state_detail": decision.detail,
        "full_after_days": decision.full_after_days,
        "checked_at": now,
        "open_divergences": Divergence.objects.filter(
            profile=centre, resolved_at__isnull=True
        ).count(),
        "city": Place.objects.filter(profile=centre, present=True)
        .order_by("pk")
        .values_list("city", flat=True)
        .first()
        or centre.city,
    }
    if failure is None:
        values |= {
            "next_slot": min(next_slots, default=None),
            "slots_7": sum(a.slots_7 for a in bookable),
            "slots_28": sum(a.slots_28 for a in bookable),
            "new_patient_slots_7": sum(a.new_patient_slots_7 for a in bookable),
        }
    else:
        values["last_error"] = failure.detail
    if decision.state != previous or centre.state_since is None:
        values["state_since"] = now
        CentreStateChange.objects.create(
            centre=centre,
            state=decision.state,
            previous=previous if previous != decision.state else "",
            detail=decision.detail[:300],
            at=now,
        )
    fields_update(centre, **values)
    state_change_record(centre=centre, before=previous, after=decision.state, at=now)
    transaction.on_commit(data_changed)
    figures = {
        "state": centre.state,
        "next_slot": centre.next_slot,
        "days_to_next_slot": round((centre.next_slot - now).total_seconds() / 86400, 2)
        if centre.next_slot
        else None,
        "slots_7": centre.slots_7,
        "slots_28": centre.slots_28,
        "new_patient_slots_7": centre.new_patient_slots_7,
    }
    CentreDay.objects.bulk_create(  # one upsert: the day's last sync wins
        [CentreDay(centre=centre, day=now.astimezone(PARIS).date(), **figures)],
        update_conflicts=True,
        unique_fields=["centre", "day"],
        update_fields=list(figures),
    )
    return previous, decision.state
