"""Following centres without the admin: add one from its Doctolib URL, choose what it must
show (expectations, by name), pause and resume."""

import re
from urllib.parse import urlsplit

from django.db import transaction
from django.utils.translation import gettext as _

from aletheia.catalog.models import Centre, Expectation
from aletheia.catalog.services.state import data_changed

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def slug_from_url(text: str) -> str:
    """The profile slug from a Doctolib URL (`https://www.doctolib.fr/centre-de-sante/paris/
    centre-x?pid=…` -> `centre-x`), or a bare slug. Raises ValueError with a reason."""
    text = text.strip()
    if "://" in text or text.startswith("www."):
        parts = urlsplit(text if "://" in text else f"https://{text}")
        host = (parts.hostname or "").lower()
        if host.split(".")[-2:-1] != ["doctolib"]:  # doctolib.fr, .de, .it, www.…
            raise ValueError(_("This is not a Doctolib address."))
        segments = [s for s in parts.path.split("/") if s]
        if segments and segments[0] == "booking":
            segments = segments[1:]
        text = segments[-1].removesuffix(".json") if segments else ""
    if not SLUG.match(text):
        raise ValueError(_("No Doctolib page found in this address."))
    return text


@transaction.atomic
def centre_add(
    *,
    slug: str,
    label: str,
    practitioners: dict[int, str],
    motives: dict[int, str],
) -> Centre:
    """Follow the centre at `slug`, with the practitioners that must be listed and the motives
    that must accept new patients (Doctolib id -> name)."""
    centre = Centre.objects.create(slug=slug, label=label[:200])
    expectations_set(centre=centre, practitioners=practitioners, motives=motives)
    transaction.on_commit(data_changed)
    return centre


@transaction.atomic
def expectations_set(
    *, centre: Centre, practitioners: dict[int, str], motives: dict[int, str]
) -> int:
    """Make the centre's expectations exactly these; returns how many changed."""
    wanted = {
        **{(Expectation.Kind.PRACTITIONER_LISTED.value, i): n for i, n in practitioners.items()},
        **{(Expectation.Kind.MOTIVE_OPEN_TO_NEW.value, i): n for i, n in motives.items()},
    }
    existing = {(e.kind, e.doctolib_id): e for e in Expectation.objects.filter(profile=centre)}
    gone = [e.pk for key, e in existing.items() if key not in wanted]
    new = [
        Expectation(profile=centre, kind=kind, doctolib_id=doctolib_id, label=name[:200])
        for (kind, doctolib_id), name in wanted.items()
        if (kind, doctolib_id) not in existing
    ]
    Expectation.objects.filter(pk__in=gone).delete()
    Expectation.objects.bulk_create(new)
    return len(gone) + len(new)


def centre_follow(*, centre: Centre, active: bool) -> None:
    """Pause (no more syncs, off the overview) or resume following a centre."""
    if centre.active != active:
        centre.active = active
        centre.save(update_fields=["active"])
        data_changed()
