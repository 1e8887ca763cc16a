"""The generic diff-and-write every sync uses.

Rows are read once per model, compared in Python, and only what changed is written (bulk), so
a second sync of unchanged data writes nothing and the number of queries per centre does not
grow with its size. Text from Doctolib is cut to the model's own field lengths.
"""

from typing import Any

from django.db import models

from aletheia.catalog.models import Centre, Speciality
from aletheia.doctolib.parsing import ParsedBooking


def fitted(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """`values` with every string cut to its field's `max_length` on `model`."""
    out = {}
    for name, value in values.items():
        if isinstance(value, str):
            max_length = getattr(model._meta.get_field(name), "max_length", None)
            if max_length:
                value = value[:max_length]
        out[name] = value
    return out


def scoped_rows_sync(
    model: Any, profile: Centre, desired: dict[int, dict[str, Any]]
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
        values = {**fitted(model, values), "present": True}
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


def specialities_sync(booking: ParsedBooking) -> tuple[dict[int, Speciality], int]:
    """Specialities are shared by every centre: create the new ones, rename the renamed."""
    wanted = {
        s.doctolib_id: fitted(Speciality, {"name": s.name})["name"] for s in booking.specialities
    }
    existing = {s.doctolib_id: s for s in Speciality.objects.filter(doctolib_id__in=wanted)}
    new = [Speciality(doctolib_id=i, name=n) for i, n in wanted.items() if i not in existing]
    renamed = [s for i, s in existing.items() if s.name != wanted[i]]
    for speciality in renamed:
        speciality.name = wanted[speciality.doctolib_id]
    if new:
        # a concurrent sync may insert the same one first
        Speciality.objects.bulk_create(new, ignore_conflicts=True)
        existing = {s.doctolib_id: s for s in Speciality.objects.filter(doctolib_id__in=wanted)}
    if renamed:
        Speciality.objects.bulk_update(renamed, ["name"])
    return existing, len(new) + len(renamed)


def fields_update(instance: models.Model, **values: Any) -> int:
    """Save only the fields whose value changed (cut to their length); 1 if any did, else 0."""
    values = fitted(type(instance), values)
    diff = {k: v for k, v in values.items() if getattr(instance, k) != v}
    if not diff:
        return 0
    for key, value in diff.items():
        setattr(instance, key, value)
    instance.save(update_fields=list(diff))
    return 1
