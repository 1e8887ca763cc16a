"""The real image, run as the prod overlay says, against real PostgreSQL and Redis.

`make test-e2e` starts dockerd if needed and makes the base image offline first. The merged
compose configuration (`compose config` of base + overlay) is used as is, except networking:
on this machine every container uses the host network and loopback addresses.
"""

import json
import os
import socket
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from celery import Celery

from ops.setup import isolation
from tests.e2e.conftest import COMPOSE, MATRIX, POSTGRES, SERVER_ENVIRONMENTS
from tests.helpers import DOCKER, run_command, write_env_file

pytestmark = pytest.mark.e2e

LOCAL_HOST = MATRIX["local"].host.partition(":")[0]  # localhost, without runserver's port


run = run_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def git_sha() -> str:
    return run("git", "rev-parse", "HEAD").stdout.strip()


@pytest.fixture(scope="module")
def image(git_sha: str) -> str:
    started = time.monotonic()
    run(
        "make",
        "build",
        f"DOCKER={DOCKER}",
        f"BUILD_NETWORK={os.environ.get('BUILD_NETWORK', 'host')}",
        timeout=1800,
    )
    size = run(
        DOCKER, "image", "inspect", "--format", "{{.Size}}", f"aletheia:{git_sha}"
    ).stdout.strip()
    print(
        f"\nimage aletheia:{git_sha} built in {time.monotonic() - started:.0f}s, {int(size) / 1e6:.0f} MB"
    )
    return f"aletheia:{git_sha}"


@pytest.fixture
def server_root(tmp_path: Path) -> Path:
    for name in SERVER_ENVIRONMENTS:
        env_file = tmp_path / MATRIX[name].env_file
        env_file.parent.mkdir(parents=True, exist_ok=True)
        env_file.write_text(f"E2E_ENV_FILE={name}\n")
    return tmp_path


def static_host_dir(server_root: Path, environment: str) -> Path:
    """Where host networking binds the static files (ops makes it, owned by the image's user)."""
    folder = server_root / "static" / environment
    folder.mkdir(parents=True, exist_ok=True)
    os.chown(folder, 1000, 1000)
    return folder


def compose_config(
    environment: str, server_root: Path, image: str = "aletheia:test", network: str = "shared"
) -> dict:
    files = ["-f", "docker-compose.yml"]
    if environment == "local":
        files += ["-f", "docker-compose.override.yml"]
    else:
        files += [
            "-f",
            f"docker-compose.{environment}.yml",
            "-f",
            f"docker-compose.{network}-network.yml",
        ]
    result = run(
        *COMPOSE,
        *files,
        "config",
        env={
            "ALETHEIA_IMAGE": image,
            "ALETHEIA_SERVER_ROOT": str(server_root),
            "ALETHEIA_ENV_NAME": environment,
            "ALETHEIA_STATIC_HOST_DIR": str(static_host_dir(server_root, environment)),
        },
    )
    return yaml.safe_load(result.stdout)


@pytest.mark.parametrize("environment", ["local", "dev", "staging", "prod"])
def test_every_compose_combination_validates_and_follows_the_matrix(
    environment: str, server_root: Path
) -> None:
    config = compose_config(environment, server_root)
    assert set(config["services"]) >= {"web", "celery", "celery_beat"}
    web = config["services"]["web"]
    row = MATRIX[environment]
    if environment == "local":
        assert set(config["services"]) == {"web", "celery", "celery_beat", "manage", "db", "redis"}
        assert web["environment"]["ALETHEIA_WEB_SERVER"] == "runserver"
        assert any("/app" in str(v) for v in web["volumes"])
        return
    assert web["image"] == "aletheia:test"
    assert web["environment"]["ALETHEIA_HOST"] == row.host
    assert web["environment"]["DJANGO_SETTINGS_MODULE"] == row.settings_module
    assert (web["environment"]["REDIS_CACHE_DB"], web["environment"]["REDIS_BROKER_DB"]) == tuple(
        str(d) for d in row.redis_dbs
    )
    assert str(web["mem_limit"]).lower() in (
        row.web_memory.lower(),
        str(int(row.web_memory[:-1]) * 1024 * 1024),
    )
    assert web["restart"] == "unless-stopped"
    assert web["environment"]["E2E_ENV_FILE"] == environment  # read from the env's own file
    assert web["networks"]["shared"]["aliases"] == [f"aletheia-{environment}-web"]


def test_a_missing_env_file_is_named(tmp_path: Path) -> None:
    result = run(
        *COMPOSE,
        "-f",
        "docker-compose.yml",
        "-f",
        "docker-compose.prod.yml",
        "config",
        env={"ALETHEIA_IMAGE": "aletheia:test", "ALETHEIA_SERVER_ROOT": str(tmp_path)},
        check=False,
    )
    assert result.returncode != 0
    assert f"{tmp_path}/{MATRIX['prod'].env_file}" in result.stderr


def own_static_volume(config: dict, project: str) -> dict:
    """The same configuration with a static volume of its own (not the real env's)."""
    for volume in config.get("volumes", {}).values():
        volume["name"] = f"{project}-static"
    return config


@pytest.fixture
def e2e_database() -> Iterator[str]:
    """A database of the test's own, dropped whatever happens."""
    database = f"aletheia_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        yield database
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def prod_stack(image: str, server_root: Path, tmp_path: Path, e2e_database: str) -> Iterator[dict]:
    database = e2e_database
    port = free_port()
    write_env_file(
        server_root / MATRIX["prod"].env_file,
        DATABASE_URL=f"{POSTGRES}/{database}",
        REDIS_URL="redis://127.0.0.1:6379",
        PORT=str(port),
        ALETHEIA_HEARTBEAT_SECONDS="2",
    )
    project = f"aletheia-e2e-{uuid.uuid4().hex[:6]}"
    config = own_static_volume(compose_config("prod", server_root, image, network="host"), project)
    assert all(s["network_mode"] == "host" for s in config["services"].values())
    compose_file = tmp_path / "compose.yml"
    compose_file.write_text(yaml.safe_dump(config))
    compose = [*COMPOSE, "-p", project, "-f", str(compose_file)]
    try:
        for step in (
            ["migrate", "--noinput"],
            ["collectstatic", "--noinput", "-v0"],
            ["sync_periodic_tasks"],
        ):
            started = time.monotonic()
            run(*compose, "run", "--rm", "--no-deps", "manage", "manage", *step)
            print(f"\n{step[0]}: {time.monotonic() - started:.1f}s")
        run(*compose, "up", "-d")
        yield {"compose": compose, "port": port, "host": MATRIX["prod"].host, "project": project}
    finally:
        logs = run(*compose, "logs", "--tail=30", check=False).stdout
        run(*compose, "down", "-v", "--timeout", "20", check=False)
        print(logs[-4000:])


def healthz(stack: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack['port']}/healthz", headers={"Host": stack["host"]}
    )
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f}s (last: {last})")


def test_prod_image_runs_web_worker_and_beat(prod_stack: dict, git_sha: str) -> None:
    _status, body = wait_for(
        lambda: (lambda r: r if r[0] == 200 else None)(healthz(prod_stack)), 90, "healthz 200"
    )
    assert body["release"] == git_sha

    broker = f"redis://127.0.0.1:6379/{MATRIX['prod'].redis_broker_db}"
    # the environment's Celery keys live under its prefix (docs/deployment/security.md)
    prefixed = {"global_keyprefix": f"{isolation.redis_key_prefix(MATRIX['prod'])}:"}
    celery = Celery(broker=broker, backend=broker)
    celery.conf.broker_transport_options = prefixed
    celery.conf.result_backend_transport_options = prefixed
    token = f"e2e-{uuid.uuid4().hex[:6]}"
    assert celery.send_task("aletheia.core.tasks.ping", args=[token]).get(timeout=60) == token

    wait_for(lambda: healthz(prod_stack)[1].get("beat_last_seen"), 60, "beat heartbeat in /healthz")

    compose = prod_stack["compose"]
    run(*compose, "exec", "-T", "web", "test", "-s", "/app/staticfiles/core/aletheia.css")
    web_id = run(*compose, "ps", "-q", "web").stdout.strip()
    memory = run(DOCKER, "inspect", "--format", "{{.HostConfig.Memory}}", web_id).stdout.strip()
    assert int(memory) == 768 * 1024 * 1024
    user = run(DOCKER, "exec", web_id, "id", "-u").stdout.strip()
    assert user == "1000"
    wait_for(
        lambda: (
            run(DOCKER, "inspect", "--format", "{{.State.Health.Status}}", web_id).stdout.strip()
            == "healthy"
        ),
        60,
        "docker HEALTHCHECK healthy",
    )


def test_local_stack_web_runs_from_the_mounted_source(
    image: str, server_root: Path, tmp_path: Path, e2e_database: str
) -> None:
    """`make up`'s web service as the override defines it (source mounted, runserver, migrate on
    start). postgres:15 and redis:7 cannot be pulled here: the host's services stand in."""
    database = e2e_database
    port = free_port()
    config = compose_config("local", server_root, "aletheia:local")
    web = config["services"]["web"]
    web.pop("depends_on", None)
    web.pop("ports", None)
    web.pop("container_name", None)
    web["network_mode"] = "host"
    web["user"] = f"{os.getuid()}:{os.getgid()}"  # ALETHEIA_UID/GID: the checkout's owner
    web["environment"].update(
        DATABASE_URL=f"{POSTGRES}/{database}",
        REDIS_URL="redis://127.0.0.1:6379",
        REDIS_CACHE_DB="12",
        REDIS_BROKER_DB="12",
        PORT=str(port),
    )
    config["services"] = {"web": web}
    config.pop("volumes", None)
    compose_file = tmp_path / "local.yml"
    compose_file.write_text(yaml.safe_dump(config))
    compose = [
        *COMPOSE,
        "-p",
        f"aletheia-e2e-local-{uuid.uuid4().hex[:6]}",
        "-f",
        str(compose_file),
    ]
    try:
        run(*compose, "up", "-d", "web")
        stack = {"port": port, "host": LOCAL_HOST}
        _status, body = wait_for(
            lambda: (lambda r: r if r[0] == 200 else None)(healthz(stack)), 120, "local healthz 200"
        )
        assert body["checks"]["migrations"]["detail"] == "all applied"  # migrated on start
        request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": LOCAL_HOST})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert "La source de vérité" in response.read().decode()  # catalogs compiled on start
    finally:
        logs = run(*compose, "logs", "--tail=30", check=False).stdout
        run(*compose, "down", "--timeout", "10", check=False)
        print(logs[-3000:])
