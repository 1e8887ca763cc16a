from celery import shared_task
from django.utils import timezone

from aletheia.alerts.services import digests_send


@shared_task
def send_digests() -> int:
    """Beat entry point: each user's digest, when due and when something changed."""
    return digests_send(now=timezone.now())
