import time

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
def ping(value: str, seconds: float = 0.0) -> str:
    """Echo, for checking a round trip through the broker and a worker. With `seconds`, it
    takes that long and counts its completions in the cache (aletheia:ping:VALUE): the
    zero-downtime test checks that a task in flight across a worker handoff completes once."""
    if seconds:
        time.sleep(seconds)
        key = f"aletheia:ping:{value}"
        cache.add(key, 0, timeout=3600)
        cache.incr(key)
    return value
