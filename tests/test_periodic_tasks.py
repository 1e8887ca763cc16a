from datetime import timedelta

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from aletheia.core.services import periodic_tasks_sync

pytestmark = pytest.mark.django_db

DECLARED = {
    "a": {"task": "aletheia.core.tasks.heartbeat", "every": timedelta(minutes=1)},
    "b": {
        "task": "aletheia.core.tasks.ping",
        "every": timedelta(hours=1),
        "kwargs": {"value": "x"},
    },
}


def test_first_sync_creates_then_second_changes_nothing() -> None:
    first = periodic_tasks_sync(declared=DECLARED)
    assert first.created == ["a", "b"]
    assert PeriodicTask.objects.get(name="b").interval.every == 3600

    second = periodic_tasks_sync(declared=DECLARED)
    assert second.created == second.updated == second.removed == []
    assert second.unchanged == ["a", "b"]


def test_changed_interval_is_updated_and_undeclared_removed() -> None:
    periodic_tasks_sync(declared=DECLARED)
    report = periodic_tasks_sync(
        declared={"a": {"task": "aletheia.core.tasks.heartbeat", "every": timedelta(seconds=30)}}
    )
    assert report.updated == ["a"]
    assert report.removed == ["b"]
    assert PeriodicTask.objects.get(name="a").interval.every == 30


def test_tasks_added_by_hand_are_left_alone() -> None:
    interval = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(name="by-hand", task="x.y", interval=interval)
    periodic_tasks_sync(declared={})
    assert PeriodicTask.objects.filter(name="by-hand").exists()


def test_command_installs_the_settings_schedule(capsys) -> None:
    call_command("sync_periodic_tasks")
    created = next(line for line in capsys.readouterr().out.splitlines() if "created:" in line)
    assert "core-heartbeat" in created
    assert PeriodicTask.objects.filter(name="core-heartbeat", enabled=True).exists()
