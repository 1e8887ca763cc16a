"""Growing past one server (issue 14): staging as a Docker Swarm stack (runtime = "swarm") on a
single-node swarm initialised on the engine the e2e starts, and left (everything removed) at
the end, even on failure.

The topology is the shared-network one (test_shared_network.py) on an attachable overlay network
instead of a bridge: shared_postgres and shared_redis stand-ins on it, nginx-proxy's stand-in
joined to it (its ports published on loopback), reaching the web service as aletheia-staging-web-swarm
(the service's virtual IP: Swarm's routing mesh does not forward on these machines, the overlay
does). ops runs from a copy of this checkout whose environments.toml says staging runs on swarm;
the releases it deploys are commits of a git remote, as on the server.

Prove it: a deploy; web scaled to 3; a rolling update to a new image, then a release whose health
check fails (rolled back by Swarm), then `make rollback`, each under 50 requests/s through nginx
with TLS and no failed request; the worker scaled to 2 runs each task once while it is updated;
beat never runs twice. `make bench-deploy` adds the swarm row (test_bench_deploy_swarm).
"""

import json
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ops.doctor.edge import DOCTOR_USER
from ops.server import compose, environments
from tests.e2e.conftest import (
    BASIC_AUTH,
    Server,
    bare_remote,
    clone_checkout,
    git,
    host,
    make_certificate,
    server_settings,
    wait_until,
)
from tests.e2e.load import Load
from tests.e2e.server.test_zero_downtime import COUNT, ENQUEUE  # the handoff's one-off code
from tests.e2e.stats import Stats
from tests.e2e.test_shared_network import build_standins
from tests.helpers import DOCKER, HEALTH_TOKEN, REPO_ROOT, run_command, write_env_file

pytestmark = pytest.mark.e2e

ENV = "staging"
STACK = f"aletheia-{ENV}"
HTTP_PORT, HTTPS_PORT = 19080, 19443  # this machine's range for the swarm e2e
DB_PASSWORD = "swarm-e2e-pw"
WARM_UP, COOL_DOWN = 3.0, 3.0
FIGURES: dict[str, dict[str, Any]] = {}
# what the copy of ops this test drives says about staging
SWARM_ROW = 'runtime = "swarm"\nweb_replicas = 2\nworker_replicas = 1\n'
TOOL_FILES = ("ops", "deploy.sh", "Makefile", "environments.toml")

sh = run_command


def tool_copy(destination: Path, on_swarm: bool = True) -> Path:
    """This checkout's ops (what runs on the server), with staging on swarm in its matrix (or,
    not `on_swarm`, as this checkout says: on compose)."""
    destination.mkdir()
    for name in TOOL_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source, destination / name)
    for compose_file in REPO_ROOT.glob("docker-compose*.yml"):
        shutil.copy2(compose_file, destination / compose_file.name)
    matrix = destination / "environments.toml"
    if not on_swarm:
        assert not environments.load(matrix)[ENV].on_swarm
        return destination
    text = matrix.read_text()
    section = text.index(f"[{ENV}]")
    row_end = text.index('runtime = "compose"\n', section)
    matrix.write_text(text[:row_end] + SWARM_ROW + text[row_end + len('runtime = "compose"\n') :])
    assert environments.load(matrix)[ENV].on_swarm
    return destination


def make_remote(root: Path) -> tuple[Path, dict[str, str]]:
    """develop (this checkout's HEAD), feature (one more commit) and unhealthy (its health check
    always fails)."""
    remote, work = bare_remote(root), root / "work"
    sh("git", "clone", "-q", str(remote), str(work))
    for key, value in (("user.name", "e2e"), ("user.email", "e2e@example.invalid")):
        git("config", key, value, cwd=work)
    git("checkout", "-q", "-B", "develop", cwd=work)
    git("checkout", "-q", "-b", "feature", cwd=work)
    (work / "FEATURE").write_text("a feature branch\n")
    git("add", "FEATURE", cwd=work)
    git("commit", "-qm", "feature", cwd=work)
    git("checkout", "-q", "-b", "unhealthy", "develop", cwd=work)
    (work / "docker" / "healthcheck.py").write_text('import sys\n\nsys.exit("unhealthy")\n')
    git("commit", "-qam", "a release whose health check fails", cwd=work)
    git("push", "-q", "--force", "origin", "develop", "feature", "unhealthy", cwd=work)
    shas = {ref: git("rev-parse", ref, cwd=work) for ref in ("develop", "feature", "unhealthy")}
    return clone_checkout(root, remote), shas


@dataclass
class SwarmServer(Server):
    """The server, its ops run from `tool` (staging on swarm), its containers named here."""

    tool: Path = Path()
    compose_tool: Path = Path()  # the same ops with staging on compose
    names: dict[str, str] | None = None
    network: str = ""

    def make(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_command(
            "make", "--no-print-directory", *args, env=self.env, check=check, cwd=self.tool
        )

    def ops(
        self, *args: str, check: bool = True, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        return run_command(
            "python3", "-m", "ops", *args, env={**self.env, **extra_env}, check=check, cwd=self.tool
        )

    def deploy(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = run_command("./deploy.sh", *args, env=self.env, check=check, cwd=self.tool)
        self.timings.setdefault(" ".join(args), []).append(round(time.monotonic() - started, 1))
        return result


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return sh(DOCKER, *args, check=check)


def leave_swarm() -> None:
    docker("stack", "rm", STACK, check=False)
    # the stack's tasks stop before its network and secrets can go
    wait_until(
        lambda: (
            not docker(
                "ps", "-aq", "--filter", f"label=com.docker.stack.namespace={STACK}", check=False
            ).stdout.strip()
        ),
        "the stack's containers gone",
        90,
    )
    docker("swarm", "leave", "--force", check=False)


@pytest.fixture(scope="module")
def swarm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmServer]:
    started = time.monotonic()
    build_standins()
    root = tmp_path_factory.mktemp("swarm-server")
    run_id = uuid.uuid4().hex[:6]
    network = f"aletheia-swarm-e2e-{run_id}"
    edge = f"aletheia-swarm-e2e-edge-{run_id}"  # a bridge: nginx's published ports
    names = {s: f"swarm_e2e_{run_id}_{s}" for s in ("postgres", "redis", "nginx")}
    checkout, shas = make_remote(root)
    tool = tool_copy(root / "tool")
    compose_tool = tool_copy(root / "compose-tool", on_swarm=False)
    write_env_file(
        root / "aletheia" / "envs" / f".env.{ENV}",
        DATABASE_URL=f"postgres://aletheia_swarm:{DB_PASSWORD}@{names['postgres']}:5432/aletheia_staging_swarm",
        REDIS_URL=f"redis://{names['redis']}:6379",
        GUNICORN_WORKERS="1",
        ALETHEIA_HEARTBEAT_SECONDS="2",
    )
    (root / "nginx" / "conf.d").mkdir(parents=True, exist_ok=True)
    run_command("htpasswd", "-bc", str(root / "nginx" / ".htpasswd"), *BASIC_AUTH)
    # the doctor's own account through basic auth, as make server-init sets it up
    run_command("htpasswd", "-b", str(root / "nginx" / ".htpasswd"), DOCTOR_USER, "doctor-pw")
    (root / "aletheia" / "doctor.credentials").write_text(f"{DOCTOR_USER}:doctor-pw\n")
    make_certificate(root, host(ENV))
    env = server_settings(
        root,
        checkout,
        ALETHEIA_NETWORK="shared",
        ALETHEIA_SWARM_NETWORK=network,
        ALETHEIA_NGINX_TEST=f"{DOCKER} exec {names['nginx']} nginx -t",
        ALETHEIA_NGINX_RELOAD=f"{DOCKER} exec {names['nginx']} nginx -s reload",
        ALETHEIA_PG_CLIENT=f"{DOCKER} exec -i -e PGPASSWORD {names['postgres']}",
        ALETHEIA_NGINX_ADDRESS=f"127.0.0.1:{HTTPS_PORT}",
        ALETHEIA_DOCKER_NETWORK=network,  # staging on compose joins the same overlay network
    )
    server = SwarmServer(
        root,
        env,
        shas,
        HTTP_PORT,
        HTTPS_PORT,
        tool=tool,
        compose_tool=compose_tool,
        names=names,
        network=network,
    )
    initialised = False
    try:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
        initialised = True
        docker("network", "create", "--driver", "overlay", "--attachable", network)
        docker("network", "create", edge)
        docker("volume", "create", f"aletheia-{ENV}-static")
        docker(
            "run", "-d", "--name", names["postgres"], "--network", network, "aletheia-e2e-postgres"
        )
        docker(
            "run",
            "-d",
            "--name",
            names["redis"],
            "--network",
            network,
            "aletheia-e2e-redis",
            *("redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""),
        )
        docker(
            "run",
            "-d",
            "--name",
            names["nginx"],
            "--network",
            edge,
            "-p",
            f"127.0.0.1:{HTTP_PORT}:80",
            "-p",
            f"127.0.0.1:{HTTPS_PORT}:443",
            "-v",
            f"{root / 'nginx' / 'conf.d'}:/etc/nginx/conf.d",
            "-v",
            f"{root / 'nginx'}:{root / 'nginx'}:ro",
            "-v",
            f"aletheia-{ENV}-static:/srv/aletheia-{ENV}-static:ro",
            "aletheia-e2e-nginx",
        )
        docker("network", "connect", network, names["nginx"])
        wait_until(
            lambda: (
                docker("exec", names["postgres"], "pg_isready", "-q", check=False).returncode == 0
            ),
            "shared_postgres",
        )
        psql = ("exec", names["postgres"], "psql", "-v", "ON_ERROR_STOP=1", "-c")
        docker(*psql, f"CREATE ROLE aletheia_swarm LOGIN PASSWORD '{DB_PASSWORD}'")
        docker(*psql, "CREATE DATABASE aletheia_staging_swarm OWNER aletheia_swarm")
        print(f"\nswarm and shared containers ready in {time.monotonic() - started:.1f}s")
        yield server
    finally:
        if initialised:
            leave_swarm()
        compose_containers = docker(
            "ps", "-aq", "--filter", f"label=com.docker.compose.project={STACK}-green", check=False
        ).stdout.split()
        compose_containers += docker(
            "ps", "-aq", "--filter", f"label=com.docker.compose.project={STACK}", check=False
        ).stdout.split()
        for container in [*names.values(), *compose_containers]:
            docker("rm", "-f", container, check=False)
        docker("network", "rm", network, edge, check=False)
        docker("volume", "rm", "-f", f"aletheia-{ENV}-static", check=False)
        print("\nswarm figures (50 requests/s through nginx, TLS):")
        for name, summary in FIGURES.items():
            print(f"  {name}: {json.dumps(summary)}")
        print("swarm deploy timings:", json.dumps(server.timings))


# --- what runs ------------------------------------------------------------------------------


def served(server: SwarmServer) -> str:
    probe = Load(host(ENV), server.https_port, auth=BASIC_AUTH)
    status, body = probe.get("/healthz", {"X-Health-Token": HEALTH_TOKEN})
    return json.loads(body).get("release", "") if status == 200 else f"status {status}"


def tasks(service: str) -> list[tuple[str, str]]:
    """(image, current state) of the service's tasks meant to run."""
    out = docker(
        "service",
        "ps",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Image}}|{{.CurrentState}}",
        f"{STACK}_{service}",
        check=False,
    ).stdout
    return [tuple(line.split("|", 1)) for line in out.splitlines() if "|" in line]  # type: ignore[misc]


def running_containers(service: str) -> list[str]:
    return docker(
        "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_{service}"
    ).stdout.split()


def ensure_at(server: SwarmServer, ref: str) -> None:
    if server.current_sha(ENV) != server.shas[ref]:
        server.deploy(ENV, ref)
    wait_until(lambda: served(server) == server.shas[ref], f"{ENV} serving {ref}", 60)


def under_load(
    server: SwarmServer, name: str, operation: Callable[[], object]
) -> tuple[dict, object]:
    """`operation` while 50 requests/s go through nginx (TLS, basic auth); none may fail."""
    summary, result, load = during(
        operation, host(ENV), server.https_port, BASIC_AUTH, WARM_UP, COOL_DOWN
    )
    FIGURES[name] = summary
    failures = [(s.at, s.status, s.error) for s in load.failures()][:10]
    assert summary["failed"] == 0, (name, summary, failures)
    assert summary["sent"] >= 50 * (WARM_UP + COOL_DOWN), summary
    return summary, result


def during(
    operation: Callable[[], object],
    host_name: str,
    port: int,
    auth: tuple[str, str] | None,
    warm_up: float = WARM_UP,
    cool_down: float = COOL_DOWN,
) -> tuple[dict[str, Any], object, Load]:
    """Run `operation` under 50 requests/s, from `warm_up` seconds after the load starts to
    `cool_down` seconds before it stops: the figures (latency "during" is the operation's),
    with how long it took, what it returned, and the load."""
    with Load(host_name, port, auth=auth, max_seconds=400) as load:
        time.sleep(warm_up)
        load.mark("start")
        result = operation()
        load.mark("end")
        time.sleep(cool_down)
    summary = load.summary("start", "end")
    summary["operation_s"] = round(load.marks["end"] - load.marks["start"], 1)
    return summary, result, load


# --- the tests ------------------------------------------------------------------------------


def test_staging_deploys_as_a_stack_and_nginx_proxy_serves_it(swarm_server: SwarmServer) -> None:
    server = swarm_server
    result = server.deploy(ENV, "develop")
    out = result.stdout
    assert "web: 2/2 running aletheia:" in out, out
    assert "==> [17] prune images" in out  # the same numbered steps as a compose deploy
    assert served(server) == server.shas["develop"]
    assert server.curl(ENV, "/static/core/aletheia.css", auth=True).status == 200
    assert server.curl(ENV, "/", https=False).status == 301
    entry = server.log(f"releases-{ENV}")[-1]
    assert (entry["result"], entry["runtime"]) == ("succeeded", "swarm")
    stack_file = json.loads((server.root / "aletheia" / "stacks" / f"{ENV}.json").read_text())
    assert stack_file["services"]["web"]["deploy"]["replicas"] == 2
    assert "env_file" not in stack_file["services"]["web"]
    # the env file reached the tasks as a secret (the database and Redis answer: /healthz 200),
    # and nothing of it is in the services' definitions
    inspected = docker("service", "inspect", f"{STACK}_web").stdout
    assert DB_PASSWORD not in inspected
    conf = (server.conf_dir / f"aletheia-{ENV}.conf").read_text()
    assert f"http://aletheia-{ENV}-web-swarm:8000" in conf
    ps = server.make("ps", f"ENV={ENV}").stdout
    assert f"{STACK}_web" in ps, ps
    assert f"{STACK}_celery_beat" in ps, ps


def test_web_scales_to_3_and_a_new_image_rolls_out_without_a_failed_request(
    swarm_server: SwarmServer,
) -> None:
    server = swarm_server
    ensure_at(server, "develop")
    out = server.make("scale", f"ENV={ENV}", "WEB=3").stdout
    assert "web x3" in out, out
    assert len([t for t in tasks("web") if t[1].startswith("Running")]) == 3
    _, result = under_load(
        server, "rolling update to a new image (web x3)", lambda: server.deploy(ENV, "feature")
    )
    assert isinstance(result, subprocess.CompletedProcess)
    assert "web: 3/3 running aletheia:" + server.shas["feature"] in result.stdout, result.stdout
    assert served(server) == server.shas["feature"]
    assert {image for image, _ in tasks("web")} == {f"aletheia:{server.shas['feature']}"}


def test_a_release_whose_health_check_fails_is_rolled_back_by_swarm(
    swarm_server: SwarmServer,
) -> None:
    server = swarm_server
    ensure_at(server, "feature")
    before = server.current_sha(ENV)
    _, result = under_load(
        server,
        "deploy, health check fails (Swarm rolls back)",
        lambda: server.deploy(ENV, "unhealthy", check=False),
    )
    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Swarm rolled web back, the previous release serves" in result.stderr, result.stderr
    assert served(server) == before
    assert {image for image, _ in tasks("web")} == {f"aletheia:{before}"}
    # the worker and beat were never touched: only web is updated before it is healthy
    assert {image for image, _ in tasks("celery")} == {f"aletheia:{before}"}
    entry = server.log(f"releases-{ENV}")[-1]
    assert (entry["result"], entry["failed_step"]) == ("failed", "health check")


def test_make_rollback_puts_the_previous_image_back_through_the_rolling_update(
    swarm_server: SwarmServer,
) -> None:
    server = swarm_server
    ensure_at(server, "develop")
    ensure_at(server, "feature")
    under_load(server, "make rollback", lambda: server.make("rollback", f"ENV={ENV}"))
    assert served(server) == server.shas["develop"]
    assert server.log(f"releases-{ENV}")[-1]["ref"] == "rollback:develop"


def one_off(server: SwarmServer, code: str) -> list[str]:
    """manage.py shell in a one-off container of the current release on the overlay network,
    with staging's env file and matrix values (as ops' one-offs run)."""
    sha = server.current_sha(ENV)
    values = compose.app_environment(environments.load(server.tool / "environments.toml")[ENV])
    return [
        DOCKER,
        "run",
        "--rm",
        "--network",
        server.network,
        "--env-file",
        str(server.env_file(ENV)),
        *[arg for key, value in values.items() for arg in ("-e", f"{key}={value}")],
        f"aletheia:{sha}",
        "manage",
        "shell",
        "-c",
        code,
    ]


def test_worker_scaled_to_2_runs_each_task_once_across_an_update_and_beat_never_twice(
    swarm_server: SwarmServer,
) -> None:
    server = swarm_server
    ensure_at(server, "develop")
    server.make("scale", f"ENV={ENV}", "WORKER=2")
    assert len(running_containers("celery")) == 2
    enqueuer = subprocess.Popen(
        one_off(server, ENQUEUE.format(seconds=40)), stdout=subprocess.PIPE, text=True
    )
    beats: list[int] = []
    stop = threading.Event()

    def watch_beat() -> None:
        while not stop.is_set():
            beats.append(len(running_containers("celery_beat")))
            stop.wait(0.3)

    watcher = threading.Thread(target=watch_beat, daemon=True)
    time.sleep(6)  # tasks in flight on the old workers when the update starts
    watcher.start()
    try:
        server.deploy(ENV, "feature")
    finally:
        stop.set()
        watcher.join()
        out, _ = enqueuer.communicate(timeout=120)
    assert max(beats) == 1, beats  # never two beats at once
    assert len(running_containers("celery")) == 2
    sent = json.loads(out.split("SENT ", 1)[1].strip().splitlines()[0])
    assert len(sent) >= 35
    counts: dict[str, int | None] = {}
    for _ in range(8):  # the last ones complete (1 s each)
        result = sh(*one_off(server, COUNT.format(sent=json.dumps(sent))))
        counts = json.loads(result.stdout.split("COUNTS ", 1)[1].strip().splitlines()[0])
        if None not in counts.values():
            break
        time.sleep(5)
    assert dict.fromkeys(sent, 1) == counts  # each ran once: none lost, none twice


def test_the_make_targets_work_against_the_stack(swarm_server: SwarmServer) -> None:
    server = swarm_server
    ensure_at(server, "feature")
    assert "No migrations to apply" in server.make("migrate", f"ENV={ENV}").stdout
    # a full sync in a one-off container: it reaches the environment's database (no centre is
    # followed here, which it says)
    sync = server.make("sync-all", f"ENV={ENV}", check=False)
    assert "No followed profile" in sync.stderr, sync.stdout + sync.stderr
    logs = server.make("logs", f"ENV={ENV}", "FOLLOW=0").stdout
    assert f"{STACK}_web." in logs, logs[-2000:]
    assert "GET /healthz" in logs
    shell = subprocess.run(
        ["python3", "-m", "ops", "shell", ENV],
        input="python3 -c \"import os; print(os.environ['REDIS_URL'])\"\n",
        capture_output=True,
        text=True,
        cwd=server.tool,
        env={**os.environ, **server.env},
        timeout=60,
    )
    assert shell.stdout.strip().endswith(f"redis://{server.names['redis']}:6379"), shell  # type: ignore[index]
    doctor = server.make("doctor", f"ENV={ENV}", check=False).stdout
    assert re.search(r"running release +PASS", doctor), doctor
    assert re.search(r"worker and beat +PASS", doctor), doctor
    assert re.search(r"through nginx +PASS", doctor), doctor


def test_an_environment_moves_from_compose_to_swarm_without_a_failed_request(
    swarm_server: SwarmServer,
) -> None:
    """docs/deployment/swarm.md's steps: staging runs on compose (on the overlay network); its matrix
    row says swarm; the next deploy starts the stack, switches nginx to it, then removes the
    compose containers."""
    server = swarm_server
    server.make("down", f"ENV={ENV}")  # the stack gone: staging starts on compose
    wait_until(lambda: not running_containers("web"), "the stack's web gone", 60)
    compose_deploy = run_command(
        "./deploy.sh", ENV, "develop", env=server.env, cwd=server.compose_tool
    )
    assert "slot green" in compose_deploy.stdout
    wait_until(lambda: served(server) == server.shas["develop"], "staging on compose", 30)
    project = f"label=com.docker.compose.project={STACK}-green"
    assert docker("ps", "-q", "--filter", project).stdout.split()
    beats: list[int] = []
    stop = threading.Event()

    def watch_beat() -> None:  # compose's beat or the stack's: never both
        while not stop.is_set():
            compose_beat = docker(
                "ps", "-q", "--filter", "label=com.docker.compose.service=celery_beat"
            ).stdout.split()
            beats.append(len(compose_beat) + len(running_containers("celery_beat")))
            stop.wait(0.3)

    watcher = threading.Thread(target=watch_beat, daemon=True)
    watcher.start()
    try:
        _, result = under_load(
            server, "move from compose to swarm", lambda: server.deploy(ENV, "feature")
        )
    finally:
        stop.set()
        watcher.join()
    assert isinstance(result, subprocess.CompletedProcess)
    assert "under compose: stopped and removed" in result.stdout, result.stdout
    assert max(beats) == 1, beats
    assert served(server) == server.shas["feature"]
    assert not docker("ps", "-aq", "--filter", project).stdout.split()
    assert not (server.state_dir / f"web-slot-{ENV}").exists()


BENCH = "ALETHEIA_BENCH_DEPLOY"


@pytest.mark.skipif(BENCH not in os.environ, reason="make bench-deploy (ALETHEIA_BENCH_DEPLOY=1)")
def test_bench_deploy_swarm(swarm_server: SwarmServer) -> None:
    """`make bench-deploy`'s swarm row: the compose bench's three operations on the stack (web
    x3), under 50 requests/s, with each container's memory and CPU meanwhile."""
    server = swarm_server
    ensure_at(server, "develop")
    ensure_at(server, "feature")
    ensure_at(server, "develop")  # both images exist before anything is timed
    server.make("scale", f"ENV={ENV}", "WEB=3", "WORKER=1")
    operations: list[tuple[str, Callable[[], object]]] = [
        ("steady, no deploy", lambda: time.sleep(15)),
        ("deploy (image switch)", lambda: server.ops("deploy", ENV, "feature")),
        ("redeploy, nothing changed", lambda: server.ops("deploy", ENV, "feature")),
        ("rollback", lambda: server.ops("rollback", ENV)),
    ]
    rows = []
    with Stats() as stats:
        for name, operation in operations:
            summary, _, _ = during(
                operation, host(ENV), server.https_port, BASIC_AUTH, WARM_UP, COOL_DOWN
            )
            rows.append((name, summary))
    header = (
        f"{'runtime':<9} {'operation':<26} {'sent':>5} {'failed':>6} {'outage s':>8} "
        f"{'p50/p99 steady ms':>18} {'p50/p99 during ms':>18} {'duration s':>10}"
    )
    lines = [header, "-" * len(header)]
    for name, s in rows:
        steady, meanwhile = s["steady_p50_p99_ms"], s["during_p50_p99_ms"]
        lines.append(
            f"{'swarm':<9} {name:<26} {s['sent']:>5} {s['failed']:>6} "
            f"{s['longest_outage_s']:>8} {f'{steady[0]:.0f} / {steady[1]:.0f}':>18} "
            f"{f'{meanwhile[0]:.0f} / {meanwhile[1]:.0f}':>18} {s['operation_s']:>10}"
        )
    print(
        "\nbench-deploy: 50 requests/s through nginx (TLS) on staging as a swarm stack (web x3)\n"
    )
    print("\n".join(lines))
    print("\nper container during the swarm bench (docker stats, one container of each role):\n")
    print(stats.table())
    assert all(s["failed"] == 0 for _, s in rows), rows
