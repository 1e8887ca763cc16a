"""Backups and restores the way the server runs them: the PostgreSQL programs inside the
shared_postgres container (`docker exec -i -e PGPASSWORD shared_postgres …`, the default of
ALETHEIA_PG_CLIENT), as an environment's own role with a password, over a docker network.

No registry here to pull postgres:15: tests/e2e/shared_postgres/Dockerfile makes an equivalent
from Debian's PostgreSQL 15 on the offline base image.
"""

import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.helpers import run_command

pytestmark = pytest.mark.e2e

DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
IMAGE = "aletheia-e2e-postgres:15"
PASSWORD = "s3cr&t pw/with:odd@chars"
SECRET = "x7Jq2mVb9LpZt4WcR8nYs3KdHf6GaE1uQoTiXv5BzNlMjPwCy0"


@pytest.fixture(scope="module")
def shared_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    run_id = uuid.uuid4().hex[:6]
    container, network = f"shared_postgres_e2e_{run_id}", f"aletheia-e2e-{run_id}"
    started = time.monotonic()
    run_command(
        DOCKER,
        "build",
        "-q",
        "--network",
        "host",
        "-t",
        IMAGE,
        str(REPO_ROOT / "tests" / "e2e" / "shared_postgres"),
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    print(f"\n{IMAGE} ready in {time.monotonic() - started:.1f}s")
    root = tmp_path_factory.mktemp("pgserver")
    try:
        run_command(DOCKER, "network", "create", network)
        run_command(DOCKER, "run", "-d", "--name", container, "--network", network, IMAGE)
        deadline = time.monotonic() + 60
        while run_command(DOCKER, "exec", container, "pg_isready", "-q", check=False).returncode:
            assert time.monotonic() < deadline, "shared_postgres stand-in did not start"
            time.sleep(0.5)
        for name in ("staging", "prod"):
            role = f"aletheia_{name}"
            admin(container, f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
            admin(container, f"CREATE DATABASE {role} OWNER {role}")
            envs = root / "aletheia" / "envs"
            envs.mkdir(parents=True, exist_ok=True)
            url_password = urllib.parse.quote(PASSWORD, safe="")
            env_file = envs / f".env.{name}"
            env_file.write_text(
                f"DJANGO_SECRET_KEY={SECRET}\n"
                f"DATABASE_URL=postgres://{role}:{url_password}@{container}:5432/{role}\n"
                "REDIS_URL=redis://shared_redis:6379\nALETHEIA_EMAIL=console\n"
            )
            env_file.chmod(0o600)
        yield {
            "root": root,
            "container": container,
            "env": {
                **os.environ,
                "ALETHEIA_SERVER_ROOT": str(root),
                "ALETHEIA_PG_CLIENT": f"{DOCKER} exec -i -e PGPASSWORD {container}",
            },
        }
    finally:
        run_command(DOCKER, "rm", "-f", container, check=False)
        run_command(DOCKER, "network", "rm", network, check=False)


def admin(container: str, sql: str) -> None:
    run_command(DOCKER, "exec", container, "psql", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql)


def as_role(server: dict, name: str, sql: str) -> str:
    """Run `sql` as the environment's own role, over the network, with its password."""
    role = f"aletheia_{name}"
    return run_command(
        DOCKER,
        "exec",
        "-e",
        f"PGPASSWORD={PASSWORD}",
        server["container"],
        "psql",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        server["container"],
        "-U",
        role,
        "-d",
        role,
        "-c",
        sql,
    ).stdout.strip()


def ops(server: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        capture_output=True,
        text=True,
        env=server["env"],
        cwd=REPO_ROOT,
        timeout=120,
    )


def test_backup_and_restore_run_inside_the_shared_container_as_the_environment_role(
    shared_postgres: dict,
) -> None:
    server = shared_postgres
    as_role(
        server,
        "staging",
        "CREATE TABLE snapshot (id int PRIMARY KEY, slots int); "
        "INSERT INTO snapshot SELECT g, g % 7 FROM generate_series(1, 20000) g",
    )
    digest = "SELECT count(*) || ':' || md5(string_agg(s::text, ',' ORDER BY id)) FROM snapshot s"
    before = as_role(server, "staging", digest)
    result = ops(server, "db-backup", "staging")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"exec -i -e PGPASSWORD {server['container']} pg_dump" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr  # never on a command line
    (dump,) = sorted((server["root"] / "backups" / "staging").glob("*.dump"))
    assert json.loads(Path(f"{dump}.json").read_text())["database"] == "aletheia_staging"

    as_role(server, "staging", "DELETE FROM snapshot WHERE slots = 0; CREATE TABLE later (x int)")
    assert as_role(server, "staging", digest) != before
    result = ops(server, "db-restore", "staging", dump.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert as_role(server, "staging", digest) == before
    tables = as_role(
        server,
        "staging",
        "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'",
    )
    assert tables == "snapshot"  # the schema was replaced, not merged: `later` is gone


def test_a_wrong_password_fails_the_backup_by_name_and_leaves_nothing(
    shared_postgres: dict,
) -> None:
    server = shared_postgres
    env_file = server["root"] / "aletheia" / "envs" / ".env.prod"
    good = env_file.read_text()
    env_file.write_text(good.replace("aletheia_prod:", "aletheia_prod:wrong", 1))
    try:
        result = ops(server, "db-backup", "prod")
    finally:
        env_file.write_text(good)
    assert result.returncode == 1
    assert 'password authentication failed for user "aletheia_prod"' in result.stderr
    assert "step 'backup' failed" in result.stderr
    assert list((server["root"] / "backups" / "prod").iterdir()) == []
