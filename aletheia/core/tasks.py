from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from aletheia.core.health import HEARTBEAT_CACHE_KEY


@shared_task
def heartbeat() -> str:
    """Run by beat every minute; /healthz shows when it last ran (beat is alive)."""
    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=None)
    return now


@shared_task
def ping(value: str) -> str:
    """Echo, for checking a round trip through the broker and a worker."""
    return value
