"""A centre's booking page written as rows: places, practitioners, motives, agendas."""

from datetime import datetime
from typing import Any

from django.db import transaction

from aletheia.catalog.models import (
    Agenda,
    Centre,
    Divergence,
    Place,
    Practitioner,
    VisitMotive,
)
from aletheia.catalog.services.diff import fields_update, scoped_rows_sync, specialities_sync
from aletheia.catalog.services.divergences import (
    PROFILE_KINDS,
    catalog_divergences,
    divergences_reconcile,
)
from aletheia.doctolib.client import DoctolibClient
from aletheia.doctolib.errors import ProfileGone
from aletheia.doctolib.parsing import ParsedBooking


def _pk_of(rows: dict[int, Any], doctolib_id: int | None) -> int | None:
    row = rows.get(doctolib_id) if doctolib_id is not None else None
    return row.pk if row is not None else None


@transaction.atomic
def catalog_apply(*, profile: Centre, booking: ParsedBooking, now: datetime) -> int:
    """Write what the booking page shows; open/resolve catalog divergences. Returns changes."""
    specialities, changes = specialities_sync(booking)
    changes += fields_update(
        profile,
        doctolib_id=booking.profile_id,
        name=booking.name,
        speciality_name=booking.speciality_name,
        status=Centre.Status.OK,
        last_error="",
    )
    places, n = scoped_rows_sync(
        Place,
        profile,
        {
            p.practice_id: {
                "name": p.name,
                "address": p.address,
                "zipcode": p.zipcode,
                "city": p.city,
                "latitude": p.latitude,
                "longitude": p.longitude,
            }
            for p in booking.places
        },
    )
    changes += n
    practitioners, n = scoped_rows_sync(
        Practitioner,
        profile,
        {
            p.doctolib_id: {"name": p.name_with_title, "speciality_name": p.speciality_name}
            for p in booking.practitioners
        },
    )
    changes += n
    motives, n = scoped_rows_sync(
        VisitMotive,
        profile,
        {
            m.doctolib_id: {
                "name": m.name,
                "speciality_id": _pk_of(specialities, m.speciality_id),
                "ref_visit_motive_id": m.ref_visit_motive_id,
                "allow_new_patients": m.allow_new_patients,
                "telehealth": m.telehealth,
                "position": m.position,
            }
            for m in booking.visit_motives
        },
    )
    changes += n
    agendas, n = scoped_rows_sync(
        Agenda,
        profile,
        {
            a.doctolib_id: {
                "practitioner_id": _pk_of(practitioners, a.practitioner_id),
                "speciality_id": _pk_of(specialities, a.speciality_id),
                "place_id": _pk_of(places, a.practice_id),
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
        current=catalog_divergences(profile, practitioners, motives, agendas),
        now=now,
    )
    return changes


@transaction.atomic
def profile_mark_gone(*, profile: Centre, error: ProfileGone, now: datetime) -> int:
    changes = fields_update(profile, status=Centre.Status.GONE, last_error=str(error))
    return changes + divergences_reconcile(
        profile=profile,
        kinds={Divergence.Kind.PROFILE_GONE},
        current={(Divergence.Kind.PROFILE_GONE, "profile"): {"status": error.status}},
        now=now,
    )


def profile_sync(*, profile: Centre, client: DoctolibClient, now: datetime) -> int:
    """Fetch the booking page and write it. Raises DoctolibError subclasses."""
    try:
        booking = client.booking(profile.slug)
    except ProfileGone as exc:
        profile_mark_gone(profile=profile, error=exc, now=now)
        raise
    return catalog_apply(profile=profile, booking=booking, now=now)
