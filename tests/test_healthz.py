import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from django.test import Client, override_settings

from aletheia.core import health
from tests.conftest import DEFAULT_DATABASE_URL, REPO_ROOT, healthz_in_subprocess

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


@pytest.mark.django_db
def test_all_dependencies_up_answers_200(client: Client) -> None:
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "cache", "broker", "migrations"}
    assert body["checks"]["database"]["detail"] == "postgresql"
    assert body["checks"]["cache"]["detail"] == "RedisCache"
    assert body["checks"]["broker"]["detail"] == "redis"
    assert body["release"]
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_cache_down_answers_503_naming_it(client: Client) -> None:
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED_PORT_REDIS,
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    with override_settings(CACHES=caches):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["cache"]
    assert "Connection" in response.json()["checks"]["cache"]["detail"]


@pytest.mark.django_db
def test_broker_down_answers_503_naming_it(client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_REDIS):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"], response.json()


def test_database_down_answers_503_naming_it() -> None:
    got = healthz_in_subprocess(
        {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere"}, "config.settings.test"
    )
    assert got["status"] == 503
    assert "database" in got["body"]["failing"]
    assert "cache" not in got["body"]["failing"]


@pytest.fixture
def empty_database() -> Iterator[str]:
    name = f"aletheia_healthz_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(
        DEFAULT_DATABASE_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(
        DEFAULT_DATABASE_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_unapplied_migrations_answer_503_naming_them(empty_database: str) -> None:
    got = healthz_in_subprocess(
        {"DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{empty_database}"},
        "config.settings.test",
    )
    assert got["status"] == 503
    assert got["body"]["failing"] == ["migrations"]
    assert "unapplied migration(s)" in got["body"]["checks"]["migrations"]["detail"]


def test_release_comes_from_the_environment_first(settings) -> None:
    settings.ALETHEIA_RELEASE = "0123abc"
    health.current_release.cache_clear()
    try:
        assert health.current_release() == "0123abc"
    finally:
        health.current_release.cache_clear()


def test_embedded_defaults_are_healthy_with_no_services() -> None:
    got = healthz_in_subprocess({}, "config.settings.development")
    # development settings on a fresh machine: SQLite (unmigrated here) + locmem + eager
    assert got["body"]["checks"]["database"]["ok"] is True
    assert got["body"]["checks"]["cache"]["detail"] == "LocMemCache"
    assert got["body"]["checks"]["broker"]["detail"] == "embedded (tasks run eagerly)"


@pytest.mark.django_db
def test_probe_reports_what_the_release_uses_for_the_doctor() -> None:
    """`manage.py probe --json`: what `make doctor` runs inside the web container."""
    import io
    import json

    from django.conf import settings
    from django.core.management import call_command

    from aletheia.core.tasks import heartbeat

    heartbeat()
    out = io.StringIO()
    call_command("probe", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["release"] == health.current_release()
    assert report["database"] == [settings.DATABASES["default"]["NAME"], "ok"]
    assert report["cache"] == [settings.TEST_REDIS_DB, "ok"]
    assert report["broker"] == [settings.TEST_REDIS_DB, "ok"]
    every, age = report["heartbeat"]
    assert every == settings.PERIODIC_TASKS["core-heartbeat"]["every"].total_seconds()  # type: ignore[attr-defined]
    assert 0 <= age < 30


@pytest.mark.django_db
def test_probe_names_a_dependency_that_is_down() -> None:
    import io
    import json

    from django.core.management import call_command

    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_REDIS):
        out = io.StringIO()
        call_command("probe", "--json", stdout=out)
    db, status = json.loads(out.getvalue())["broker"]
    assert db == 0
    assert status.startswith("ConnectionError")


@pytest.mark.django_db
def test_through_the_proxy_healthz_says_only_the_status(client: Client, settings) -> None:
    settings.ALETHEIA_HEALTH_TOKEN = "monitoring-token-0123456789"
    public = client.get("/healthz", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert public.status_code == 200
    assert public.json() == {"status": "ok"}  # no release, hosts or errors for the world
    remote = client.get("/healthz", REMOTE_ADDR="203.0.113.9")
    assert remote.json() == {"status": "ok"}
    wrong = client.get("/healthz", HTTP_X_FORWARDED_FOR="203.0.113.9", HTTP_X_HEALTH_TOKEN="guess")
    assert wrong.json() == {"status": "ok"}
    monitored = client.get(
        "/healthz",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        HTTP_X_HEALTH_TOKEN="monitoring-token-0123456789",
    )
    assert monitored.json()["release"] == health.current_release()
    assert set(monitored.json()["checks"]) == {"database", "cache", "broker", "migrations"}


@pytest.mark.django_db
def test_a_failing_check_is_not_named_to_the_world(client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_REDIS):
        response = client.get("/healthz", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 503
    assert response.json() == {"status": "fail"}


def test_the_wsgi_app_is_warm_before_its_first_request() -> None:
    """Loading config.wsgi imports the URLconf and the views (gunicorn --preload: once, before
    the workers fork): no worker's first request waits ~0.7 s for them with the others queued
    behind it."""
    code = (
        "import sys, config.wsgi; "
        "print(sorted(m for m in ('config.urls', 'aletheia.dashboard.views') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.development"},
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout
    assert loaded.strip() == "['aletheia.dashboard.views', 'config.urls']"
