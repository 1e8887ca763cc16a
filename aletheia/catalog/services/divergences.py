"""Divergence rules: where Doctolib differs from what the group expects, opened then resolved."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import translation

from aletheia.alerts.services import divergence_changes_record
from aletheia.catalog.models import (
    Agenda,
    Centre,
    Divergence,
    Expectation,
    Practitioner,
    VisitMotive,
    divergence_message,
)
from aletheia.catalog.services.diff import fitted

PROFILE_KINDS = {
    Divergence.Kind.PROFILE_GONE,
    Divergence.Kind.PRACTITIONER_MISSING,
    Divergence.Kind.BOOKING_DISABLED,
    Divergence.Kind.MOTIVE_CLOSED_TO_NEW,
}
AVAILABILITY_KINDS = {Divergence.Kind.AGENDA_CLOSED}


def divergences_reconcile(
    *,
    profile: Centre,
    kinds: Iterable[str],
    current: dict[tuple[Any, str], dict[str, Any]],
    now: datetime,
) -> int:
    """Open what is newly divergent, resolve what no longer is, within `kinds`.

    `current` maps (kind, subject) -> parameters for everything divergent right now; the
    sentence is rendered in the reader's language, `detail` keeps it in English for search.
    """
    open_rows = {
        (d.kind, d.subject): d
        for d in Divergence.objects.filter(
            profile=profile, kind__in=kinds, resolved_at__isnull=True
        )
    }
    with translation.override("en"):
        to_open = [
            Divergence(
                profile=profile,
                kind=kind,
                params=params,
                **fitted(
                    Divergence,
                    {"subject": subject, "detail": divergence_message(kind, params)},
                ),
                opened_at=now,
            )
            for (kind, subject), params in current.items()
            if (kind, subject) not in open_rows
        ]
    to_resolve = [d for key, d in open_rows.items() if key not in current]
    if to_open:
        Divergence.objects.bulk_create(to_open)
    if to_resolve:
        Divergence.objects.filter(pk__in=[d.pk for d in to_resolve]).update(resolved_at=now)
    if to_open or to_resolve:
        divergence_changes_record(opened=to_open, resolved=to_resolve, at=now)
    return len(to_open) + len(to_resolve)


def catalog_divergences(
    profile: Centre,
    practitioners: dict[int, Practitioner],
    motives: dict[int, VisitMotive],
    agendas: dict[int, Agenda],
) -> dict[tuple[Any, str], dict[str, Any]]:
    """What the booking page shows against the centre's expectations, and disabled agendas."""
    current: dict[tuple[Any, str], dict[str, Any]] = {}
    for expectation in Expectation.objects.filter(profile=profile):
        label = expectation.label or str(expectation.doctolib_id)
        if expectation.kind == Expectation.Kind.PRACTITIONER_LISTED:
            practitioner = practitioners.get(expectation.doctolib_id)
            if practitioner is None or not practitioner.present:
                subject = f"practitioner:{expectation.doctolib_id}"
                current[(Divergence.Kind.PRACTITIONER_MISSING, subject)] = {"name": label}
        elif expectation.kind == Expectation.Kind.MOTIVE_OPEN_TO_NEW:
            motive = motives.get(expectation.doctolib_id)
            if motive is None or not motive.present or not motive.allow_new_patients:
                subject = f"motive:{expectation.doctolib_id}"
                current[(Divergence.Kind.MOTIVE_CLOSED_TO_NEW, subject)] = {
                    "motive": motive.name if motive else label,
                    "missing": motive is None or not motive.present,
                }
    for agenda in agendas.values():
        if agenda.present and (agenda.booking_disabled or agenda.booking_temporary_disabled):
            subject = f"agenda:{agenda.doctolib_id}"
            current[(Divergence.Kind.BOOKING_DISABLED, subject)] = {"who": agenda_name(agenda)}
    return current


def agenda_name(agenda: Agenda) -> str:
    return agenda.practitioner.name if agenda.practitioner else f"agenda {agenda.doctolib_id}"


def closed_agenda_divergences(
    observed: dict[tuple[int, int], dict[str, Any]], agendas: list[Agenda], closed_status: str
) -> dict[tuple[Any, str], dict[str, Any]]:
    """Agendas whose availability answered `not_opened_availability`."""
    by_pk = {a.pk: a for a in agendas}
    return {
        (Divergence.Kind.AGENDA_CLOSED, f"agenda:{by_pk[agenda_pk].doctolib_id}"): {
            "who": agenda_name(by_pk[agenda_pk])
        }
        for (agenda_pk, _), figures in observed.items()
        if figures["status"] == closed_status
    }
