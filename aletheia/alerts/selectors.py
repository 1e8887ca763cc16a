"""Reads for the alerts page."""

from typing import Any

from django.db.models import QuerySet

from aletheia.alerts.models import Alert, CentreFollow
from aletheia.catalog.models import Centre


def followed_centre_ids(user: Any) -> set[int]:
    return set(CentreFollow.objects.filter(user=user).values_list("centre_id", flat=True))


def recent_alerts(user: Any, limit: int = 100) -> QuerySet[Alert]:
    """Recent alerts on the centres the user follows (every centre if they follow none)."""
    alerts = Alert.objects.select_related("centre").order_by("-at")
    followed = followed_centre_ids(user)
    if followed:
        alerts = alerts.filter(centre_id__in=followed)
    return alerts[:limit]


def centres_to_follow() -> QuerySet[Centre]:
    return Centre.objects.filter(active=True).only("slug", "label", "name", "city")
