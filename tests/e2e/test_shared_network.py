"""The server's real topology: Aletheia's containers on a shared docker network beside
shared_postgres, shared_redis and nginx-proxy containers (ALETHEIA_NETWORK=shared, the default).

The shared containers are stand-ins built from Debian's packages (tests/e2e/standins/: no
registry here). nginx-proxy is set up as docs/deployment.md's first-time setup says: conf.d as
/etc/nginx/conf.d, the certificates at the server's path, each static volume read-only at
/srv/aletheia-ENV-static. Everything else is ops' defaults: nginx -t and reload through
`docker exec`, the web reached as aletheia-prod-web:8000 through Docker's DNS, pg_dump/psql run
inside shared_postgres as the environment's own role with its password.
"""

import json
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.helpers import (
    DOCKER,
    run_command,
    self_signed_certificate,
    tear_down_environment,
    write_env_file,
)

pytestmark = pytest.mark.e2e

HOST = "aletheia.groupe-suffren.com"
HTTP_PORT, HTTPS_PORT = 18280, 18643
PASSWORD = "s3cr&t pw/with:odd@chars"
STANDINS = REPO_ROOT / "tests" / "e2e" / "standins"

sh = run_command


def build_standins() -> None:
    for name in ("postgres", "redis", "nginx"):
        sh(
            DOCKER,
            "build",
            "-q",
            "--network",
            "host",
            "-t",
            f"aletheia-e2e-{name}",
            str(STANDINS / name),
            env={"DOCKER_BUILDKIT": "1"},
        )


def wait_until(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} not ready after {seconds:.0f}s"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    started = time.monotonic()
    build_standins()
    root = tmp_path_factory.mktemp("shared-server")
    run_id = uuid.uuid4().hex[:6]
    network = f"aletheia-e2e-{run_id}"
    names = {s: f"e2e_{run_id}_{s}" for s in ("postgres", "redis", "nginx")}
    remote, checkout = root / "remote.git", root / "aletheia" / "repo"
    sh("git", "clone", "-q", "--bare", str(REPO_ROOT), str(remote))
    sh("git", "-C", str(remote), "tag", "-f", "v1.0", "HEAD")
    sh("git", "clone", "-q", str(remote), str(checkout))
    sha = sh("git", "-C", str(remote), "rev-parse", "v1.0^{commit}").stdout.strip()

    password = urllib.parse.quote(PASSWORD, safe="")
    write_env_file(
        root / "aletheia" / "envs" / ".env.prod",
        DATABASE_URL=f"postgres://aletheia_prod:{password}@{names['postgres']}:5432/aletheia_prod",
        REDIS_URL=f"redis://{names['redis']}:6379",
        GUNICORN_WORKERS="1",
        ALETHEIA_HEARTBEAT_SECONDS="2",
    )
    nginx_dir = root / "nginx"
    (nginx_dir / "conf.d").mkdir(parents=True)
    self_signed_certificate(
        nginx_dir / "certs" / HOST / "fullchain.pem",
        nginx_dir / "certs" / HOST / "privkey.pem",
        HOST,
    )
    env = {
        "ALETHEIA_SERVER_ROOT": str(root),
        "ALETHEIA_CHECKOUT": str(checkout),
        "ALETHEIA_DOCKER": DOCKER,
        "ALETHEIA_COMPOSE": "docker-compose"
        if Path("/usr/bin/docker-compose").exists()
        else f"{DOCKER} compose",
        "ALETHEIA_NETWORK": "shared",
        "ALETHEIA_DOCKER_NETWORK": network,
        "ALETHEIA_NGINX_TEST": f"{DOCKER} exec {names['nginx']} nginx -t",
        "ALETHEIA_NGINX_RELOAD": f"{DOCKER} exec {names['nginx']} nginx -s reload",
        "ALETHEIA_PG_CLIENT": f"{DOCKER} exec -i -e PGPASSWORD {names['postgres']}",
        "ALETHEIA_BUILD_NETWORK": "host",
        "ALETHEIA_HEALTH_TIMEOUT": "120",
        "ALETHEIA_BUILD_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"
        if Path("/etc/ssl/certs/ca-certificates.crt").exists()
        else "",
    }
    try:
        sh(DOCKER, "network", "create", network)
        sh(DOCKER, "volume", "create", "aletheia-prod-static")
        sh(
            DOCKER,
            "run",
            "-d",
            "--name",
            names["postgres"],
            "--network",
            network,
            "aletheia-e2e-postgres",
        )
        sh(
            DOCKER,
            "run",
            "-d",
            "--name",
            names["redis"],
            "--network",
            network,
            "aletheia-e2e-redis",
        )
        sh(
            DOCKER,
            "run",
            "-d",
            "--name",
            names["nginx"],
            "--network",
            network,
            "-p",
            f"127.0.0.1:{HTTP_PORT}:80",
            "-p",
            f"127.0.0.1:{HTTPS_PORT}:443",
            "-v",
            f"{nginx_dir / 'conf.d'}:/etc/nginx/conf.d",
            "-v",
            f"{nginx_dir}:{nginx_dir}:ro",
            "-v",
            "aletheia-prod-static:/srv/aletheia-prod-static:ro",
            "aletheia-e2e-nginx",
        )
        wait_until(
            lambda: (
                sh(DOCKER, "exec", names["postgres"], "pg_isready", "-q", check=False).returncode
                == 0
            ),
            "shared_postgres",
        )
        for sql in (
            f"CREATE ROLE aletheia_prod LOGIN PASSWORD '{PASSWORD}'",
            "CREATE DATABASE aletheia_prod OWNER aletheia_prod",
        ):
            sh(DOCKER, "exec", names["postgres"], "psql", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql)
        print(f"\nshared containers ready in {time.monotonic() - started:.1f}s")
        yield {"root": root, "env": env, "sha": sha, "names": names}
    finally:
        tear_down_environment("prod", env)
        for container in names.values():
            sh(DOCKER, "rm", "-f", container, check=False)
        sh(DOCKER, "volume", "rm", "-f", "aletheia-prod-static", check=False)
        sh(DOCKER, "network", "rm", network, check=False)


def curl(path: str) -> tuple[int, str]:
    result = sh(
        "curl",
        "-sk",
        "--max-time",
        "10",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "--resolve",
        f"{HOST}:{HTTPS_PORT}:127.0.0.1",
        f"https://{HOST}:{HTTPS_PORT}{path}",
        check=False,
    )
    body, _, status = result.stdout.rpartition("\n")
    return int(status or 0), body


def make(server: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return sh("make", "--no-print-directory", *args, cwd=REPO_ROOT, env=server["env"], check=check)


def test_prod_deploys_onto_the_shared_network_and_nginx_proxy_serves_it(server: dict) -> None:
    out = sh("./deploy.sh", "prod", "v1.0", cwd=REPO_ROOT, env=server["env"]).stdout
    assert f"exec -i -e PGPASSWORD {server['names']['postgres']} pg_dump" in out  # the backup
    assert PASSWORD not in out
    wait_until(lambda: curl("/healthz")[0] == 200, "prod through nginx-proxy", seconds=30)
    status, body = curl("/healthz")
    health = json.loads(body)
    assert health["release"] == server["sha"]
    assert status == 200
    status, _ = curl("/static/core/aletheia.css")  # the static volume, read-only in nginx-proxy
    assert status == 200


def test_doctor_passes_every_check_on_the_real_topology(server: dict) -> None:
    # the worker and beat have just started: their first heartbeat comes within seconds
    wait_until(lambda: make(server, "doctor", "ENV=prod", check=False).returncode == 0, "doctor")
    result = make(server, "doctor", "ENV=prod", check=False)
    print(result.stdout)
    assert result.returncode == 0, result.stdout
    assert "8 checks: 8 passed, 0 warning(s), 0 failed" in result.stdout
    assert "aletheia_prod reachable, used by prod only" in result.stdout


def test_backup_and_restore_through_shared_postgres_as_the_environment_role(server: dict) -> None:
    container = server["names"]["postgres"]

    def as_prod(sql: str) -> str:
        return sh(
            DOCKER,
            "exec",
            "-e",
            f"PGPASSWORD={PASSWORD}",
            container,
            "psql",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            container,
            "-U",
            "aletheia_prod",
            "-d",
            "aletheia_prod",
            "-c",
            sql,
        ).stdout.strip()

    as_prod(
        "CREATE TABLE e2e_snapshot (id int PRIMARY KEY, slots int); "
        "INSERT INTO e2e_snapshot SELECT g, g % 7 FROM generate_series(1, 20000) g"
    )
    digest = (
        "SELECT count(*) || ':' || md5(string_agg(s::text, ',' ORDER BY id)) FROM e2e_snapshot s"
    )
    before = as_prod(digest)
    out = make(server, "db-backup", "ENV=prod").stdout
    assert PASSWORD not in out
    dump = sorted((server["root"] / "backups" / "prod").glob("*.dump"))[-1]
    as_prod("DELETE FROM e2e_snapshot WHERE slots = 0; CREATE TABLE e2e_later (x int)")
    out = make(server, "db-restore", "ENV=prod", f"FILE={dump.name}", "CONFIRM=prod").stdout
    assert "] start the app" in out
    assert as_prod(digest) == before
    assert as_prod("SELECT count(*) FROM pg_tables WHERE tablename = 'e2e_later'") == "0"
    wait_until(lambda: curl("/healthz")[0] == 200, "prod after the restore", seconds=30)


def test_a_wrong_database_password_fails_the_backup_by_name_and_leaves_nothing(
    server: dict,
) -> None:
    env_file = server["root"] / "aletheia" / "envs" / ".env.prod"
    folder = server["root"] / "backups" / "prod"
    good, kept = env_file.read_text(), sorted(folder.iterdir())
    env_file.write_text(good.replace("aletheia_prod:", "aletheia_prod:wrong", 1))
    try:
        result = make(server, "db-backup", "ENV=prod", check=False)
    finally:
        env_file.write_text(good)
    assert result.returncode != 0
    assert 'password authentication failed for user "aletheia_prod"' in result.stderr
    assert "step 'backup' failed" in result.stderr
    assert sorted(folder.iterdir()) == kept
