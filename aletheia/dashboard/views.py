import functools
import io
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from aletheia.alerts import selectors as alert_selectors
from aletheia.alerts import services as alert_services
from aletheia.catalog import selectors
from aletheia.catalog.models import Centre
from aletheia.dashboard import export
from aletheia.dashboard.charts import Series, step_chart

PERIODS = ("30", "90", "365")


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    filters = selectors.OverviewFilters(
        city=request.GET.get("city", ""),
        speciality=request.GET.get("speciality", ""),
        state=request.GET.get("state", ""),
        q=request.GET.get("q", "").strip(),
    )
    now = timezone.now()
    return render(
        request,
        "dashboard/overview.html",
        {
            # read only when the cached rendering (keyed on data_version) is missing
            "overview": SimpleLazyObject(lambda: selectors.overview(filters, now)),
            "data_version": selectors.data_version(),
            "filters": filters,
            "states": Centre.State.choices,
            "last_run": selectors.last_finished_run(),
            "now": now,
        },
    )


@login_required
def centre(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_object_or_404(Centre, pk=pk)
    days = int(request.GET.get("days", "30")) if request.GET.get("days") in PERIODS else 30
    return render(
        request,
        "dashboard/centre.html",
        {
            "profile": profile,
            # the parts below are read only when their cached rendering is missing
            "summary": SimpleLazyObject(lambda: next(iter(selectors.centre_summaries(pk)), None)),
            "charts": SimpleLazyObject(lambda: trend_charts(profile, days)),
            "data_version": selectors.data_version(),
            "days": days,
            "periods": PERIODS,
            "agendas": selectors.centre_agendas(profile),
            "history": selectors.centre_state_history(profile),
            "last_result": selectors.last_result(profile),
            "followed_run": selectors.run_of(request.GET.get("run", "")),
            "now": timezone.now(),
        },
    )


def trend_charts(profile: Centre, days: int) -> list[SafeString]:
    end = timezone.localdate()
    start = end - timedelta(days=days - 1)
    history = selectors.centre_history(profile, start)
    if profile.state == Centre.State.NEVER:
        empty = _("Not synced yet: the history starts with the first sync.")
    else:
        empty = _("No sync in this period.")
    chart = functools.partial(step_chart, start=start, end=end, empty=empty)
    return [
        chart(
            [
                Series(
                    _("days"),
                    "#0b6e99",
                    [(d.day, d.days_to_next_slot) for d in history],
                )
            ],
            title=_("Days to the next free slot"),
            unit=" " + _("d"),
        ),
        chart(
            [
                Series(_("all patients"), "#067647", [(d.day, d.slots_7) for d in history]),
                Series(
                    _("new patients"), "#7a5af8", [(d.day, d.new_patient_slots_7) for d in history]
                ),
            ],
            title=_("Free slots in the next 7 days"),
        ),
    ]


@login_required
def runs(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/runs.html", {"runs": selectors.recent_runs()})


@login_required
def export_csv(request: HttpRequest) -> HttpResponse:
    key = f"aletheia:export:{selectors.data_version()}:{get_language()}"
    body = cache.get(key)  # text: the cache stores JSON
    if body is None:
        buffer = io.StringIO()
        export.write(buffer)
        body = buffer.getvalue()
        cache.set(key, body, 600)
    response = HttpResponse(body.encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="aletheia-availability.csv"'
    return response


@login_required
def alerts(request: HttpRequest) -> HttpResponse:
    """Recent alerts, and the centres this user follows (their digest emails)."""
    if request.method == "POST":
        ids = [int(v) for v in request.POST.getlist("centre") if v.isdigit()]
        alert_services.follows_set(user=request.user, centre_ids=ids, language=get_language())
        messages.success(request, _("Saved: your digests cover the centres ticked."))
        return redirect("dashboard:alerts")
    followed = alert_selectors.followed_centre_ids(request.user)
    return render(
        request,
        "dashboard/alerts.html",
        {
            "alerts": alert_selectors.recent_alerts(request.user),
            "centres": [(c, c.pk in followed) for c in alert_selectors.centres_to_follow()],
            "follows_any": bool(followed),
        },
    )
