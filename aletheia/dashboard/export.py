"""The CSV export, as French Excel opens it: UTF-8 with a BOM, `;`, local times, and cells
that could be read as formulas escaped (names come from Doctolib: untrusted)."""

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from aletheia.catalog import selectors

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A value safe for a spreadsheet: text that would start a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def moment(value: datetime | None) -> str:
    """Local time, as French Excel reads a date and time."""
    return timezone.localtime(value).strftime("%d/%m/%Y %H:%M") if value else ""


def yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def header() -> list[str]:
    return [
        _("Centre"),
        _("City"),
        _("Speciality"),
        _("State"),
        _("Reason"),
        _("Since"),
        _("Practitioner"),
        _("Agenda speciality"),
        _("Online booking"),
        _("Next free slot"),
        _("Slots 7 days"),
        _("New patients, 7 days"),
        _("Slots 28 days"),
        _("Open divergences"),
    ]


def rows() -> Iterable[list[Any]]:
    """A row per followed centre and listed agenda; a centre without agenda (never synced,
    blocked, gone…) still has its row."""
    for centre, agendas in selectors.export_centres():
        head = [
            str(centre),
            centre.city,
            centre.speciality_name,
            centre.get_state_display(),
            centre.state_reason(),
            moment(centre.state_since),
        ]
        if not agendas:
            yield [
                *head,
                "",
                "",
                "",
                moment(centre.next_slot),
                centre.slots_7,
                centre.new_patient_slots_7,
                centre.slots_28,
                centre.open_divergences,
            ]
        for agenda in agendas:
            bookable = not (agenda.booking_disabled or agenda.booking_temporary_disabled)
            yield [
                *head,
                str(agenda.practitioner or agenda.doctolib_id),
                str(agenda.speciality or ""),
                yes_no(bookable),
                moment(agenda.next_slot),
                agenda.slots_7,
                agenda.new_patient_slots_7,
                agenda.slots_28,
                centre.open_divergences,
            ]


def write(stream: Any) -> None:
    stream.write("\ufeff")
    writer = csv.writer(stream, delimiter=";")
    writer.writerow(header())
    for row in rows():
        writer.writerow([cell(value) for value in row])
