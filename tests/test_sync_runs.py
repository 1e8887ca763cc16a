import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from aletheia.catalog import tasks
from aletheia.catalog.models import Agenda, Centre, SyncRun
from config.celery_app import app as celery_app
from fakedoctolib import FakeDoctolibServer, FakeWorld
from tests.conftest import REPO_ROOT


def track_all(world: FakeWorld) -> list[Centre]:
    return [Centre.objects.create(slug=slug) for slug in world.profiles]


@pytest.mark.django_db
def test_command_syncs_all_then_changes_nothing(world: FakeWorld) -> None:
    track_all(world)
    out = StringIO()
    call_command("sync_doctolib", "--all", stdout=out, stderr=StringIO())
    first = out.getvalue()
    assert f"full sync: {len(world.profiles)}/{len(world.profiles)} centres ok" in first
    assert Agenda.objects.exists()

    out = StringIO()
    call_command("sync_doctolib", "--all", stdout=out, stderr=StringIO())
    assert ", 0 changes," in out.getvalue()


@pytest.mark.django_db
def test_command_stops_on_a_403_storm_with_a_clear_message(world: FakeWorld, settings) -> None:
    settings.DOCTOLIB_BLOCKS_BEFORE_STOP = 2
    track_all(world)
    world.block_everything = True
    with pytest.raises(CommandError, match="403"):
        call_command("sync_doctolib", "--all", stdout=StringIO(), stderr=StringIO())
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.BLOCKED
    assert not Agenda.objects.exists()


@pytest.mark.django_db
def test_command_fails_a_partial_run_unless_allowed(world: FakeWorld) -> None:
    centres = track_all(world)
    world.profiles[centres[0].slug].behaviour = "garbage"
    with pytest.raises(CommandError, match="1 centre\\(s\\) failed"):
        call_command("sync_doctolib", "--all", stdout=StringIO(), stderr=StringIO())
    out = StringIO()
    call_command("sync_doctolib", "--all", "--allow-partial", stdout=out, stderr=StringIO())
    assert "(run #" in out.getvalue()
    assert "partial" in out.getvalue()


@pytest.mark.django_db
def test_command_refuses_unknown_slugs_and_ambiguous_arguments(world: FakeWorld) -> None:
    track_all(world)
    with pytest.raises(CommandError, match="Not tracked"):
        call_command("sync_doctolib", "nowhere", stdout=StringIO())
    with pytest.raises(CommandError, match="slugs or --all"):
        call_command("sync_doctolib", stdout=StringIO())


@pytest.fixture
def celery_worker(doctolib: FakeDoctolibServer) -> Iterator[str]:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "CELERY_EAGER": "false",
        "CELERY_QUEUE": queue,
        "DOCTOLIB_BASE_URL": doctolib.url,
        "DOCTOLIB_RATE_PER_SECOND": "0",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config.celery_app",
            "worker",
            "-Q",
            queue,
            "-c",
            "2",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "WARNING",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = False, queue
    try:
        yield queue
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
        if worker.returncode not in (0, -15):
            print(output)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_sync_all_through_a_real_worker(world: FakeWorld, celery_worker: str) -> None:
    profiles = track_all(world)
    run_id = tasks.sync_all.apply_async(kwargs={"kind": "full"}).get(timeout=60)
    deadline = time.monotonic() + 90
    run = SyncRun.objects.get(pk=run_id)
    while run.finished_at is None and time.monotonic() < deadline:
        time.sleep(0.3)
        run.refresh_from_db()
    assert run.finished_at is not None, "the worker did not finish the run in 90 s"
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.results.count() == len(profiles)
    assert run.requests > len(profiles)
    assert Agenda.objects.filter(profile__in=profiles).exists()


@pytest.mark.django_db
def test_a_profile_already_being_synced_is_skipped(world: FakeWorld) -> None:
    from django.core.cache import cache

    from aletheia.catalog import services

    profile = track_all(world)[0]
    run = services.sync_run_start(kind="profiles", profiles_total=1)
    lock = f"aletheia:doctolib:profile-lock:{profile.pk}"
    cache.set(lock, "another worker", 60)
    try:
        result = tasks.sync_profile.delay(run.pk, profile.pk, "profiles").get()
    finally:
        cache.delete(lock)
    assert result == {"profile": profile.pk, "skipped": "already being synced"}
    assert not Agenda.objects.exists()
    assert tasks.sync_profile.delay(run.pk, profile.pk, "profiles").get()["ok"] is True
