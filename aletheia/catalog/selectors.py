"""Reads for the dashboard, commands and tasks."""


from django.db.models import QuerySet

from aletheia.catalog.models import (
    TrackedProfile,
)


def profiles_to_sync(slugs: list[str] | None = None) -> QuerySet[TrackedProfile]:
    queryset = TrackedProfile.objects.filter(active=True)
    return queryset.filter(slug__in=slugs) if slugs else queryset
