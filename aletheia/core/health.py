"""Dependency checks behind /healthz: cheap enough to poll every second."""

import functools
import hmac
import ipaddress
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest
from django.utils import timezone

HEARTBEAT_CACHE_KEY = "aletheia:beat:last"


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    ms: float


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def check_cache() -> str:
    # A key per probe: processes sharing the cache (gunicorn workers) must not race.
    key = f"aletheia:healthz:{uuid.uuid4().hex}"
    cache.set(key, "ok", 10)
    if cache.get(key) != "ok":
        raise RuntimeError("value written was not read back")
    cache.delete(key)
    return str(settings.CACHES["default"]["BACKEND"]).rsplit(".", 1)[-1]


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    timeout = settings.REDIS_SOCKET_TIMEOUT
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def check_broker() -> str:
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return "embedded (tasks run eagerly)"
    _redis_client(url).ping()
    return "redis"


_migrations_confirmed_applied = False


def check_migrations() -> str:
    # Once every migration this code ships is applied, it stays so for this process.
    global _migrations_confirmed_applied
    if not _migrations_confirmed_applied:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:3])
            raise RuntimeError(f"{len(plan)} unapplied migration(s): {names}")
        _migrations_confirmed_applied = True
    return "all applied"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "migrations": check_migrations,
}


def run_checks() -> list[CheckResult]:
    results = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as exc:  # any failure of a dependency is a failed check
            detail, ok = f"{type(exc).__name__}: {exc}".strip(), False
        results.append(
            CheckResult(name, ok, detail, round((time.perf_counter() - started) * 1000, 1))
        )
    return results


@functools.cache
def current_release() -> str:
    """The image's git sha (ALETHEIA_RELEASE), else the checkout's, else the version."""
    if settings.ALETHEIA_RELEASE:
        return settings.ALETHEIA_RELEASE
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
            timeout=2,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def may_see_details(request: HttpRequest) -> bool:
    """The server itself (a loopback client that did not come through the proxy, which always
    adds X-Forwarded-For), or whoever sends `X-Health-Token: <ALETHEIA_HEALTH_TOKEN>`."""
    token = settings.ALETHEIA_HEALTH_TOKEN
    given = request.headers.get("X-Health-Token", "").strip()  # Authorization is basic auth's
    if token and given and hmac.compare_digest(given, token):
        return True
    remote = request.META.get("REMOTE_ADDR", "")
    through_proxy = "X-Forwarded-For" in request.headers or "X-Real-Ip" in request.headers
    return not through_proxy and ipaddress.ip_address(remote or "0.0.0.0").is_loopback  # noqa: S104


def last_heartbeat() -> str | None:
    try:
        return cache.get(HEARTBEAT_CACHE_KEY)
    except Exception:
        return None


def _redis_db(url: str) -> int | None:
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return int(redis.connection.parse_url(url).get("db", 0))


def _status(check: Callable[[], str]) -> str:
    try:
        check()
    except Exception as exc:  # reported, not raised: the doctor shows what failed
        return f"{type(exc).__name__}: {exc}".strip()[:200]
    return "ok"


def database_role() -> dict[str, object]:
    """Is this release's database role a superuser, and which other databases may it open?"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        (superuser,) = cursor.fetchone() or (None,)
        cursor.execute(
            "SELECT datname FROM pg_database WHERE datallowconn AND datname <> current_database()"
            " AND datname NOT IN ('postgres', 'template1')"
            " AND has_database_privilege(datname, 'CONNECT') ORDER BY datname"
        )
        others = [row[0] for row in cursor.fetchall()]
    return {"superuser": superuser, "other_databases": others}


def redis_without_credentials() -> str:
    """What the broker's Redis answers a client that gives no user and no password."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return "not redis"
    kwargs = redis.connection.parse_url(url)
    kwargs.pop("username", None)
    kwargs.pop("password", None)
    try:
        redis.Redis(**kwargs, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.exceptions.AuthenticationError:
        return "refused"
    except redis.exceptions.ResponseError as exc:  # NOAUTH on servers with requirepass
        return "refused" if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc) else f"error: {exc}"
    except redis.exceptions.RedisError as exc:
        return f"error: {exc}"
    return "open"


def probe() -> dict[str, object]:
    """What this release connects to and whether it can: `manage.py probe --json`, which
    `make doctor` runs inside the environment's web container."""
    seen = last_heartbeat()
    age = (timezone.now() - datetime.fromisoformat(seen)).total_seconds() if seen else None
    every = settings.PERIODIC_TASKS["core-heartbeat"]["every"]
    assert isinstance(every, timedelta)
    return {
        "release": current_release(),
        "database": [connection.settings_dict["NAME"], _status(check_database)],
        "cache": [
            _redis_db(str(settings.CACHES["default"].get("LOCATION", ""))),
            _status(check_cache),
        ],
        "broker": [_redis_db(settings.CELERY_BROKER_URL), _status(check_broker)],
        "heartbeat": [every.total_seconds(), age],
        "redis_without_credentials": redis_without_credentials(),
        "database_role": database_role() if connection.vendor == "postgresql" else {},
    }
