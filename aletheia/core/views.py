from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from aletheia.core import health


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Status for anyone; what failed, the release and the details only for the server itself
    or with the health token (they name hosts, versions and errors)."""
    results = health.run_checks()
    failing = [r.name for r in results if not r.ok]
    payload: dict[str, object] = {"status": "ok" if not failing else "fail"}
    if health.may_see_details(request):
        payload |= {
            "failing": failing,
            "release": health.current_release(),
            "checks": {r.name: {"ok": r.ok, "detail": r.detail, "ms": r.ms} for r in results},
            "beat_last_seen": health.last_heartbeat(),
        }
    return JsonResponse(payload, status=200 if not failing else 503)


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")
