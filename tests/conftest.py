import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest_plugins = ["tests.doctolib_fakes"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/aletheia"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    # .mo files are built, not committed: build them once, before any worker starts.
    if not hasattr(config, "workerinput"):
        from aletheia.core.i18n import catalogs_compile

        catalogs_compile(REPO_ROOT / "locale")


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    missing = [
        f"{name} at {url}"
        for name, url, port in (
            ("PostgreSQL", database_url, 5432),
            ("Redis", redis_url, 6379),
        )
        if not _reachable(url, port)
    ]
    if missing:
        pytest.exit(
            "The tests need real services, and these are not reachable: "
            + "; ".join(missing)
            + ". Start them (see docs/development.md) or set DATABASE_URL / REDIS_URL.",
            returncode=3,
        )


def run_python(*argv: str, env: dict[str, str], settings: str) -> subprocess.CompletedProcess[str]:
    """Run python in a fresh process with a clean environment: only PATH, HOME, the settings
    module, this run's id and `env`. Settings are read once per process, so each
    environment's settings get their own."""
    clean_env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "DJANGO_SETTINGS_MODULE": settings,
        "ALETHEIA_TEST_RUN_ID": os.environ.get("ALETHEIA_TEST_RUN_ID", "sub"),
        **env,
    }
    return subprocess.run(
        [sys.executable, *argv],
        cwd=REPO_ROOT,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_django(
    code: str, *, env: dict[str, str], settings: str, args: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `code` with Django set up, in a fresh process."""
    program = "import django\ndjango.setup()\n" + textwrap.dedent(code)
    return run_python("-c", program, *(args or []), env=env, settings=settings)


def run_manage(*args: str, env: dict[str, str], settings: str) -> subprocess.CompletedProcess[str]:
    return run_python("manage.py", *args, env=env, settings=settings)


HEALTHZ_PROGRAM = """
    import json
    from django.test import Client
    response = Client(HTTP_HOST="localhost").get("/healthz")
    print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


def healthz_in_subprocess(env: dict[str, str], settings: str) -> dict:
    result = run_django(HEALTHZ_PROGRAM, env=env, settings=settings)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session", autouse=True)
def _close_stray_test_database_sessions(django_db_setup, django_db_blocker):
    """Torn down just before the test databases are dropped: end sessions other threads
    (the live server's request threads) left open, so the drop succeeds and leaves nothing."""
    yield
    from django.db import connection

    if not str(connection.settings_dict["NAME"]).startswith("test_"):
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
