from django.conf import settings
from django.http import HttpRequest

from aletheia.core.health import current_release


def environment(request: HttpRequest) -> dict[str, str]:
    return {"aletheia_env": settings.ALETHEIA_ENV, "aletheia_release": current_release()[:12]}
