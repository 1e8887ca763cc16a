"""The server's real topology: Aletheia's containers on a shared docker network beside
shared_postgres, shared_redis and nginx-proxy containers (ALETHEIA_NETWORK=shared, the default).

The shared containers are stand-ins built from Debian's packages (tests/e2e/standins/: no
registry here). nginx-proxy is set up as docs/deployment/first-time-setup.md says: conf.d as
/etc/nginx/conf.d, the certificates at the server's path, each static volume read-only at
/srv/aletheia-ENV-static. Everything else is ops' defaults: nginx -t and reload through
`docker exec`, the live web slot reached as aletheia-prod-web-SLOT:8000 through Docker's DNS, pg_dump/psql run
inside shared_postgres as the environment's own role with its password.
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import (
    BASIC_AUTH,
    Server,
    bare_remote,
    clone_checkout,
    host,
    make_certificate,
    server_settings,
    wait_until,
)
from tests.e2e.load import Load, report
from tests.e2e.stats import Stats
from tests.helpers import DOCKER, REPO_ROOT, run_command, tear_down_environment, write_env_file

pytestmark = pytest.mark.e2e

PASSWORD = "s3cr&t pw/with:odd@chars"
HTTP_PORT, HTTPS_PORT = 18280, 18643
PASSWORDS = {"prod": PASSWORD, "staging": "another s3cr&t for staging"}
REDIS_PASSWORDS = {
    "prod": "prod-redis-password-0123456789",
    "staging": "staging-redis-pw-0123456789",
}
# the stand-in's own command, reading the ACL file the first-time setup writes
REDIS_COMMAND = [
    "redis-server",
    "--bind",
    "0.0.0.0",
    "--protected-mode",
    "no",
    "--save",
    "",
    "--appendonly",
    "no",
    "--aclfile",
    "/etc/aletheia-redis/users.acl",
]
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


@dataclass
class SharedServer(Server):
    """The server with its shared containers: `containers` names postgres, redis and nginx."""

    containers: dict[str, str] | None = None

    @property
    def postgres(self) -> str:
        assert self.containers
        return self.containers["postgres"]


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServer]:
    started = time.monotonic()
    build_standins()
    root = tmp_path_factory.mktemp("shared-server")
    run_id = uuid.uuid4().hex[:6]
    network = f"aletheia-e2e-{run_id}"
    names = {s: f"e2e_{run_id}_{s}" for s in ("postgres", "redis", "nginx")}
    remote = bare_remote(root)
    sh("git", "-C", str(remote), "tag", "-f", "v1.0", "HEAD")
    checkout = clone_checkout(root, remote)
    sha = sh("git", "-C", str(remote), "rev-parse", "v1.0^{commit}").stdout.strip()

    # each environment its own PostgreSQL role and Redis user, as docs/deployment/security.md
    # sets them up (ops isolation --apply, below)
    for name in ("prod", "staging"):
        password = urllib.parse.quote(PASSWORDS[name], safe="")
        write_env_file(
            root / "aletheia" / "envs" / f".env.{name}",
            DATABASE_URL=f"postgres://aletheia_{name}:{password}@{names['postgres']}:5432/aletheia_{name}",
            REDIS_URL=f"redis://aletheia-{name}:{REDIS_PASSWORDS[name]}@{names['redis']}:6379",
            GUNICORN_WORKERS="1",
            ALETHEIA_HEARTBEAT_SECONDS="2",
        )
    acl_dir = root / "redis"
    acl_dir.mkdir()
    (acl_dir / "users.acl").write_text("user default on nopass ~* &* +@all\n")  # a fresh Redis
    nginx_dir = root / "nginx"
    (nginx_dir / "conf.d").mkdir(parents=True)
    make_certificate(root, host("prod"))
    make_certificate(root, host("staging"))  # the zero-downtime test loads it (no rate limit)
    (root / "nginx").mkdir(exist_ok=True)  # staging's basic auth, read by nginx-proxy
    sh("htpasswd", "-bc", str(root / "nginx" / ".htpasswd"), *BASIC_AUTH)
    env = server_settings(
        root,
        checkout,
        ALETHEIA_NETWORK="shared",
        ALETHEIA_DOCKER_NETWORK=network,
        ALETHEIA_NGINX_TEST=f"{DOCKER} exec {names['nginx']} nginx -t",
        ALETHEIA_NGINX_RELOAD=f"{DOCKER} exec {names['nginx']} nginx -s reload",
        ALETHEIA_PG_CLIENT=f"{DOCKER} exec -i -e PGPASSWORD {names['postgres']}",
        ALETHEIA_PG_ADMIN=f"{DOCKER} exec -i {names['postgres']} psql --username postgres",
        ALETHEIA_REDIS_ADMIN=(
            f"{DOCKER} exec -i -e REDISCLI_AUTH {names['redis']} redis-cli --user aletheia-admin"
        ),
        # nginx-proxy listens on 443, published here: where the doctor reaches it
        ALETHEIA_NGINX_ADDRESS=f"127.0.0.1:{HTTPS_PORT}",
    )
    http_port, https_port = HTTP_PORT, HTTPS_PORT
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
            "-v",
            f"{acl_dir}:/etc/aletheia-redis:ro",
            "aletheia-e2e-redis",
            *REDIS_COMMAND,
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
            f"127.0.0.1:{http_port}:80",
            "-p",
            f"127.0.0.1:{https_port}:443",
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
        # roles, databases and the ACL file, then Redis restarted on it (the first time)
        isolation = sh(sys.executable, "-m", "ops", "isolation", "--apply", env=env, cwd=REPO_ROOT)
        print(isolation.stdout)
        sh(DOCKER, "restart", names["redis"])
        print(f"\nshared containers ready in {time.monotonic() - started:.1f}s")
        yield SharedServer(root, env, {"v1.0": sha}, http_port, https_port, containers=names)
    finally:
        tear_down_environment("prod", env)
        tear_down_environment("staging", env)
        for container in names.values():
            sh(DOCKER, "rm", "-f", container, check=False)
        sh(DOCKER, "volume", "rm", "-f", "aletheia-prod-static", check=False)
        sh(DOCKER, "network", "rm", network, check=False)


def test_prod_deploys_onto_the_shared_network_and_nginx_proxy_serves_it(
    shared_server: SharedServer,
) -> None:
    server = shared_server
    out = server.deploy("prod", "v1.0").stdout
    assert f"exec -i -e PGPASSWORD {server.postgres} pg_dump" in out  # the backup
    assert PASSWORD not in out
    wait_until(
        lambda: server.curl("prod", "/healthz").status == 200, "prod through nginx-proxy", 30
    )
    response = server.curl("prod", "/healthz")
    assert response.json()["release"] == server.shas["v1.0"]
    assert response.status == 200
    # the static volume, read-only in nginx-proxy
    assert server.curl("prod", "/static/core/aletheia.css").status == 200


def test_doctor_passes_every_check_on_the_real_topology(shared_server: SharedServer) -> None:
    server = shared_server
    server.ensure_deployed("prod", "v1.0")
    # a worker and beat just started send their first heartbeat within seconds
    wait_until(lambda: server.make("doctor", "ENV=prod", check=False).returncode == 0, "doctor")
    result = server.make("doctor", "ENV=prod", check=False)
    print(result.stdout)
    assert result.returncode == 0, result.stdout
    assert re.search(r"(\d+) checks: \1 passed, 0 warning\(s\), 0 failed", result.stdout)
    assert re.search(r"redis auth +PASS", result.stdout)
    assert re.search(r"database role +PASS", result.stdout)
    assert "aletheia_prod reachable, used by prod only" in result.stdout


def test_backup_and_restore_through_shared_postgres_as_the_environment_role(
    shared_server: SharedServer,
) -> None:
    server = shared_server
    server.ensure_deployed("prod", "v1.0")
    container = server.postgres

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
    earlier = set(server.backups("prod"))
    out = server.make("db-backup", "ENV=prod").stdout
    assert PASSWORD not in out
    (dump,) = set(server.backups("prod")) - earlier
    as_prod("DELETE FROM e2e_snapshot WHERE slots = 0; CREATE TABLE e2e_later (x int)")
    out = server.make("db-restore", "ENV=prod", f"FILE={dump.name}", "CONFIRM=prod").stdout
    assert "] start the app" in out
    assert as_prod(digest) == before
    assert as_prod("SELECT count(*) FROM pg_tables WHERE tablename = 'e2e_later'") == "0"
    wait_until(lambda: server.curl("prod", "/healthz").status == 200, "prod after the restore", 30)


def test_a_wrong_database_password_fails_the_backup_by_name_and_leaves_nothing(
    shared_server: SharedServer,
) -> None:
    server = shared_server
    server.ensure_deployed("prod", "v1.0")  # its backups folder holds the deploy's backup
    env_file = server.env_file("prod")
    folder = server.root / "backups" / "prod"
    good, kept = env_file.read_text(), sorted(folder.iterdir())
    env_file.write_text(good.replace("aletheia_prod:", "aletheia_prod:wrong", 1))
    try:
        result = server.make("db-backup", "ENV=prod", check=False)
    finally:
        env_file.write_text(good)
    assert result.returncode != 0
    assert 'password authentication failed for user "aletheia_prod"' in result.stderr
    assert "step 'backup' failed" in result.stderr
    assert sorted(folder.iterdir()) == kept


# Run inside staging's web container with staging's own credentials (its environment): what
# an attacker whose code runs in staging can try against prod.
ATTACK = """
import json, os, urllib.parse
import psycopg, redis
found = {}
r = redis.Redis.from_url(os.environ["REDIS_URL"] + "/0", socket_timeout=5)
prod = "aletheia-prod:1:aletheia:beat:last"
tries = {
    "read prod's key": lambda: r.get(prod),
    "write prod's key": lambda: r.set(prod, "planted"),
    "delete prod's key": lambda: r.delete(prod),
    "queue a task on prod's broker": lambda: r.rpush("aletheia-prod:celery", "{}"),
    "publish on prod's channel": lambda: r.publish("aletheia-prod:/1.celery.pidbox", "x"),
    "FLUSHDB": lambda: r.flushdb(),
    "FLUSHALL": lambda: r.flushall(),
    "KEYS": lambda: r.keys("*"),
    "CONFIG": lambda: r.config_get("*"),
}
for name, attempt in tries.items():
    try:
        attempt()
        found[name] = "allowed"
    except redis.exceptions.NoPermissionError:
        found[name] = "NOPERM"
    except Exception as exc:
        found[name] = f"{type(exc).__name__}: {exc}"
url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
try:
    psycopg.connect(urllib.parse.urlunsplit(url._replace(path="/aletheia_prod")), connect_timeout=5)
    found["connect to prod's database"] = "connected"
except psycopg.OperationalError as exc:
    found["connect to prod's database"] = " ".join(str(exc).split())
print(json.dumps(found))
"""


def app_container(environment: str, service: str = "web") -> str:
    """A running container of the environment's `service` (whatever its Compose project)."""
    listed = sh(
        DOCKER,
        "ps",
        "--format",
        '{{.Names}} {{.Label "com.docker.compose.project"}} {{.Label "com.docker.compose.service"}}',
    ).stdout.split("\n")
    for line in listed:
        parts = line.split()
        if (
            len(parts) == 3
            and parts[1].startswith(f"aletheia-{environment}")
            and parts[2].startswith(service)
        ):
            return parts[0]
    raise AssertionError(f"no running {service} container for {environment}: {listed}")


def test_an_attacker_in_staging_cannot_reach_prod(shared_server: SharedServer) -> None:
    server = shared_server
    server.ensure_deployed("prod", "v1.0")
    server.ensure_deployed("staging", "v1.0")
    attacker = app_container("staging")
    result = sh(DOCKER, "exec", attacker, "python3", "-c", ATTACK)
    tried = json.loads(result.stdout.strip().splitlines()[-1])
    print(json.dumps(tried, indent=2))
    refused = {
        name: outcome for name, outcome in tried.items() if name != "connect to prod's database"
    }
    assert refused == dict.fromkeys(refused, "NOPERM")
    assert 'permission denied for database "aletheia_prod"' in tried["connect to prod's database"]
    # prod still works, and its heartbeat key is still its own
    wait_until(lambda: server.curl("prod", "/healthz").status == 200, "prod after the attempts", 30)


def test_a_redeploy_through_nginx_proxy_drops_no_request(shared_server: SharedServer) -> None:
    """Zero-downtime on the real topology: staging redeployed (the other web slot started on
    the shared network, nginx-proxy pointed at its alias and reloaded through docker exec, the
    old slot drained), then its nginx config re-activated, each under 50 requests/s through
    nginx-proxy with TLS and basic auth (staging: no per-client rate limit)."""
    server = shared_server
    server.ensure_deployed("staging", "v1.0")
    slot_file = server.state_dir / "web-slot-staging"
    before = slot_file.read_text().strip()
    operations = {
        "redeploy": lambda: server.deploy("staging", "v1.0"),
        "nginx-activate": lambda: server.make("nginx-activate", "ENV=staging"),
    }
    figures = {}
    for name, operation in operations.items():
        with (
            Load(host("staging"), server.https_port, auth=BASIC_AUTH, rate=50) as load,
            Stats("aletheia-staging") as memory,
        ):
            time.sleep(3)
            load.mark("start")
            operation()
            load.mark("end")
            time.sleep(3)
        figures[name] = {**load.summary("start", "end"), **memory.memory()}
        figures[name]["operation_s"] = round(load.marks["end"] - load.marks["start"], 1)
        report(f"staging, shared network: {name}", figures[name])
        failures = [(s.at, s.status, s.error) for s in load.failures()][:10]
        assert figures[name]["failed"] == 0, (name, figures[name], failures)
        assert figures[name]["sent"] >= 300
    after = slot_file.read_text().strip()
    assert after not in (before, "")  # the other slot serves now
    assert server.curl("staging", "/healthz", auth=True).json()["release"] == server.shas["v1.0"]
    assert (
        f"aletheia-staging-web-{after}" in (server.conf_dir / "aletheia-staging.conf").read_text()
    )
    left = sh(
        DOCKER,
        "ps",
        "--all",
        "--filter",
        f"label=com.docker.compose.project=aletheia-staging-{before}",
        "--format",
        "{{.Names}}",
    )
    assert left.stdout.strip() == ""  # the old slot drained and removed
    # the sampler saw both slots' webs during the switch (Compose v1 or v2 names)
    peaks = figures["redeploy"]["peak_per_container_mib"]
    for slot in (before, after):
        assert any(n.startswith(f"aletheia-staging-{slot}") and "web" in n for n in peaks), peaks


def test_a_pickle_planted_in_prods_cache_does_not_run(shared_server: SharedServer) -> None:
    """Even written where the ACL would have failed (here by the admin), a forged value is not
    executed by prod's /healthz: the cache holds JSON."""
    import pickle

    server = shared_server
    server.ensure_deployed("prod", "v1.0")
    web = app_container("prod")

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("touch /tmp/pwned-by-a-pickle",))

    payload = pickle.dumps(Exploit())
    admin = server.root / "aletheia" / "redis-admin.password"
    key = "aletheia-prod:1:aletheia:beat:last"
    for _ in range(10):  # beat rewrites the key every 2 s: plant, then read, until read planted
        subprocess.run(
            [
                DOCKER,
                "exec",
                "-i",
                "-e",
                f"REDISCLI_AUTH={admin.read_text().strip()}",
                server.containers["redis"],  # type: ignore[index]
                "redis-cli",
                "--user",
                "aletheia-admin",
                "-n",
                "0",
                "-x",
                "SET",
                key,
            ],
            input=payload,
            check=True,
            capture_output=True,
        )
        body = server.curl("prod", "/healthz").json()
        if body.get("beat_last_seen") is None:
            break
    assert body["status"] == "ok"
    assert body.get("beat_last_seen") is None  # the planted value was read: as data, refused
    assert (
        sh(DOCKER, "exec", web, "test", "-e", "/tmp/pwned-by-a-pickle", check=False).returncode == 1
    )


def test_the_deploy_key_deploys_develop_to_dev_and_nothing_else(
    shared_server: SharedServer,
) -> None:
    server = shared_server
    for asked in (["deploy", "prod", "v1.0"], ["deploy", "v1.0"], ["bash"], ["deploy", "staging"]):
        result = sh(str(REPO_ROOT / "ops" / "ssh-entry"), *asked, env=server.env, check=False)
        assert result.returncode == 2, (asked, result.stdout, result.stderr)
        assert "refused:" in result.stderr
    assert server.current_sha("dev") is None  # nothing was deployed
