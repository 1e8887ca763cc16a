"""Writes owned by the core app."""

import json
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

MANAGED_MARKER = "managed by code: settings.PERIODIC_TASKS"


@dataclass
class PeriodicTasksReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@transaction.atomic
def periodic_tasks_sync(*, declared: dict[str, dict[str, object]]) -> PeriodicTasksReport:
    """Make django-celery-beat's tables match the declared schedules.

    Tasks this function created earlier but no longer declared are removed; tasks added by
    hand in the admin (no marker) are left alone.
    """
    report = PeriodicTasksReport()
    for name, spec in sorted(declared.items()):
        every = spec["every"]
        assert isinstance(every, timedelta)
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=int(every.total_seconds()), period=IntervalSchedule.SECONDS
        )
        wanted = {
            "task": spec["task"],
            "interval": interval,
            "kwargs": json.dumps(spec.get("kwargs", {}), sort_keys=True),
            "enabled": True,
            "description": MANAGED_MARKER,
        }
        existing = PeriodicTask.objects.filter(name=name).first()
        if existing is None:
            PeriodicTask.objects.create(name=name, **wanted)
            report.created.append(name)
        elif any(getattr(existing, key) != value for key, value in wanted.items()):
            for key, value in wanted.items():
                setattr(existing, key, value)
            existing.save()
            report.updated.append(name)
        else:
            report.unchanged.append(name)
    stale = PeriodicTask.objects.filter(description=MANAGED_MARKER).exclude(name__in=declared)
    report.removed = sorted(stale.values_list("name", flat=True))
    stale.delete()
    return report
