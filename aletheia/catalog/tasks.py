"""Thin tasks: a fan-out over profiles, one task per profile, a finisher.

Concurrency towards Doctolib is bounded across every worker by DOCTOLIB_CONCURRENCY slots in
the shared cache; one profile is never synced twice at once (a lock per profile).
"""

import uuid

from celery import chord, shared_task
from celery.app.task import Task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from aletheia.catalog import selectors, services
from aletheia.catalog.models import Centre, SyncRun
from aletheia.core import locks
from aletheia.doctolib.factory import client_from_settings

# Longer than a task may run (the hard time limit), so a lock never expires under a running
# sync; released by its owner only (aletheia/core/locks.py).
LOCK_SECONDS = settings.CELERY_TASK_TIME_LIMIT + 5 * 60


def _take_slot(token: str) -> str | None:
    for index in range(settings.DOCTOLIB_CONCURRENCY):
        key = f"aletheia:doctolib:slot:{index}"
        if cache.add(key, token, LOCK_SECONDS):
            return key
    return None


@shared_task(bind=True, max_retries=None, acks_late=True)
def sync_profile(self: Task, run_id: int, profile_id: int, kind: str) -> dict[str, object]:
    profile_lock = f"aletheia:doctolib:profile-lock:{profile_id}"
    token = uuid.uuid4().hex
    if not cache.add(profile_lock, token, LOCK_SECONDS):
        return {"profile": profile_id, "skipped": "already being synced"}
    slot = _take_slot(token)
    if slot is None:
        locks.release(profile_lock, token)
        raise self.retry(countdown=2)
    try:
        profile = Centre.objects.get(pk=profile_id)
        run = SyncRun.objects.get(pk=run_id)
        client = client_from_settings()
        try:
            outcome = services.profile_run_one(
                profile=profile, kind=kind, client=client, now=timezone.now(), run=run
            )
        finally:
            client.close()
        services.sync_result_record(run, outcome)
        return {"profile": profile_id, "ok": outcome.ok, "changes": outcome.changes}
    finally:
        locks.release(slot, token)
        locks.release(profile_lock, token)


@shared_task
def finish_run(results: list[object], run_id: int) -> str:
    run = services.sync_run_finish(run=SyncRun.objects.get(pk=run_id))
    return run.status


@shared_task
def sync_all(kind: str = SyncRun.Kind.FULL) -> int:
    """Beat entry point: one task per followed profile, then totals."""
    profiles = list(selectors.profiles_to_sync())
    run = services.sync_run_start(kind=kind, profiles_total=len(profiles))
    chord(sync_profile.si(run.pk, p.pk, kind) for p in profiles)(finish_run.s(run.pk))
    return run.pk


def sync_centre_now(centre_id: int) -> SyncRun:
    """ "Sync now" from the dashboard: a full run of one centre, recorded at once (so the page
    can follow it) and run by a worker."""
    run = services.sync_run_start(kind=SyncRun.Kind.FULL, profiles_total=1)
    chord([sync_profile.si(run.pk, centre_id, SyncRun.Kind.FULL)])(finish_run.s(run.pk))
    return run
