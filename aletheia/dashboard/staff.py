"""Pages for staff to run Aletheia without the admin: add a centre from its Doctolib URL
(with a preview), choose its expectations by name, pause/resume, sync now, the breaker."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import user_passes_test
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from aletheia.catalog import selectors
from aletheia.catalog.models import Centre, SyncRun
from aletheia.catalog.services import centres as centre_services
from aletheia.catalog.tasks import sync_centre_now
from aletheia.doctolib.errors import DoctolibError
from aletheia.doctolib.factory import circuit_breaker_from_settings
from aletheia.doctolib.parsing import ParsedBooking


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return user_passes_test(lambda u: u.is_active and u.is_staff)(view)


def _to_run(centre: Centre, run: SyncRun) -> HttpResponse:
    """The centre's page, following the run just queued until it ends."""
    return redirect(f"{reverse('dashboard:centre', args=[centre.pk])}?run={run.pk}")


def _chosen(request: HttpRequest, name: str, names: dict[int, str]) -> dict[int, str]:
    ids = {int(v) for v in request.POST.getlist(name) if v.isdigit()}
    return {i: n for i, n in names.items() if i in ids}


@staff_required
def centre_add(request: HttpRequest) -> HttpResponse:
    """Paste a URL -> preview what Doctolib shows -> choose expectations -> save."""
    context: dict[str, Any] = {"url": request.POST.get("url", "")}
    if request.method != "POST":
        return render(request, "dashboard/centre_add.html", context)
    try:
        slug = centre_services.slug_from_url(request.POST.get("slug") or context["url"])
    except ValueError as exc:
        context["error"] = str(exc)
        return render(request, "dashboard/centre_add.html", context)
    existing = Centre.objects.filter(slug=slug).first()
    if existing:
        context["error"] = _("This centre is already followed.")
        context["existing"] = existing
        return render(request, "dashboard/centre_add.html", context)
    try:
        booking: ParsedBooking = selectors.booking_preview(slug)
    except DoctolibError as exc:
        context["error"] = _("Doctolib did not show this page: %(error)s") % {"error": exc}
        return render(request, "dashboard/centre_add.html", context)
    if request.POST.get("step") != "save":
        context |= {"slug": slug, "booking": booking}
        return render(request, "dashboard/centre_add.html", context)
    centre = centre_services.centre_add(
        slug=slug,
        label=request.POST.get("label", "").strip() or booking.name,
        practitioners=_chosen(
            request,
            "practitioner",
            {p.doctolib_id: p.name_with_title for p in booking.practitioners},
        ),
        motives=_chosen(request, "motive", {m.doctolib_id: m.name for m in booking.visit_motives}),
    )
    run = sync_centre_now(centre.pk)
    messages.success(
        request, _("%(centre)s is followed; its first sync is on its way.") % {"centre": centre}
    )
    return _to_run(centre, run)


@staff_required
def centre_expectations(request: HttpRequest, pk: int) -> HttpResponse:
    centre = get_object_or_404(Centre, pk=pk)
    practitioners, motives = selectors.centre_choices(centre)
    if request.method == "POST":
        centre_services.expectations_set(
            centre=centre,
            practitioners=_chosen(
                request, "practitioner", {p.doctolib_id: p.name for p in practitioners}
            ),
            motives=_chosen(request, "motive", {m.doctolib_id: m.name for m in motives}),
        )
        messages.success(request, _("Expectations saved; the next sync checks them."))
        return redirect("dashboard:centre", centre.pk)
    chosen = {(e.kind, e.doctolib_id) for e in centre.expectations.all()}
    return render(
        request,
        "dashboard/centre_expectations.html",
        {
            "profile": centre,
            "practitioners": [
                (p, ("practitioner_listed", p.doctolib_id) in chosen) for p in practitioners
            ],
            "motives": [(m, ("motive_open_to_new", m.doctolib_id) in chosen) for m in motives],
        },
    )


@staff_required
@require_POST
def centre_follow(request: HttpRequest, pk: int) -> HttpResponse:
    centre = get_object_or_404(Centre, pk=pk)
    active = request.POST.get("active") == "1"
    centre_services.centre_follow(centre=centre, active=active)
    messages.success(
        request, _("Following resumed.") if active else _("Paused: no more syncs until resumed.")
    )
    return redirect("dashboard:centre", centre.pk)


@staff_required
@require_POST
def centre_sync(request: HttpRequest, pk: int) -> HttpResponse:
    centre = get_object_or_404(Centre, pk=pk)
    return _to_run(centre, sync_centre_now(centre.pk))


@staff_required
def doctolib_status(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        circuit_breaker_from_settings().reset()
        messages.success(request, _("The breaker is reset: the next sync asks Doctolib again."))
        return redirect("dashboard:doctolib")
    open_until, blocks = selectors.circuit_state()
    return render(
        request,
        "dashboard/doctolib.html",
        {"open_until": open_until, "blocks": blocks, "last_run": selectors.last_finished_run()},
    )
