"""Cache locks are released by their owner only, and outlive any task."""

from django.conf import settings
from django.core.cache import cache

from aletheia.catalog.tasks import LOCK_SECONDS
from aletheia.core import locks


def test_only_the_owner_releases_a_lock() -> None:
    key = "aletheia:doctolib:profile-lock:owner-test"
    assert cache.add(key, "token-a", 60)
    assert locks.release(key, "token-b") is False  # another worker's token: left alone
    assert cache.get(key) == "token-a"
    assert locks.release(key, "token-a") is True
    assert cache.get(key) is None
    assert cache.add(key, "token-c", 60)  # free again
    cache.delete(key)


def test_a_lock_taken_over_after_expiry_is_not_freed_by_the_first_owner() -> None:
    key = "aletheia:doctolib:slot:owner-test"
    cache.set(key, "second-owner", 60)  # the first owner's lock expired; another took it
    assert locks.release(key, "first-owner") is False
    assert cache.get(key) == "second-owner"
    cache.delete(key)


def test_locks_outlive_the_hard_time_limit() -> None:
    assert LOCK_SECONDS > settings.CELERY_TASK_TIME_LIMIT
