from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _

from aletheia.catalog import selectors
from aletheia.catalog.models import Centre
from aletheia.dashboard import export
from aletheia.dashboard.charts import line_chart

TREND_DAYS = 30


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
            "overview": selectors.overview(filters, now),
            "filters": filters,
            "states": Centre.State.choices,
            "last_run": selectors.last_finished_run(),
            "now": now,
        },
    )


@login_required
def centre(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_object_or_404(Centre, pk=pk)
    summaries = selectors.centre_summaries(profile.pk)
    summary = summaries[0] if summaries else None
    trend = selectors.availability_trend(profile, timezone.now() - timedelta(days=TREND_DAYS))
    charts = [
        line_chart(
            [(p.at, p.days_to_next_slot) for p in trend],
            title=_("Days to the next free slot"),
            unit=" j",
        ),
        line_chart(
            [(p.at, p.slots_7) for p in trend],
            title=_("Free slots in the next 7 days"),
            colour="#067647",
        ),
    ]
    return render(
        request,
        "dashboard/centre.html",
        {
            "profile": profile,
            "summary": summary,
            "charts": charts,
            "agendas": selectors.centre_agendas(profile),
            "history": selectors.centre_state_history(profile),
            "now": timezone.now(),
        },
    )


@login_required
def runs(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/runs.html", {"runs": selectors.recent_runs()})


@login_required
def export_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="aletheia-availability.csv"'
    export.write(response)
    return response
