"""Zero-downtime deploys and rollbacks, proven under load (issue 11), host-network mode.

The whole-server topology of test_server.py (its `server` fixture: host nginx with TLS, host
PostgreSQL and Redis, images built from a bare remote). Staging takes an open-loop load of
50 requests/s through nginx with TLS/SNI and basic auth (prod's rate limit would answer 429s
to a single client at that rate) while it is deployed, redeployed, rolled back, re-activated,
and while deploys fail (health check, migration). Each: no request fails.
"""

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ops import commands, slots, target
from ops.settings import ServerSettings
from tests.conftest import REPO_ROOT
from tests.e2e import test_server as whole
from tests.e2e.load import Load
from tests.e2e.test_server import HOSTS, HTTPS_PORT, curl, deploy, git, sh

pytestmark = pytest.mark.e2e
server = whole.server  # its module-scoped fixture: a whole server of this module's own

ENV = "staging"
AUTH = ("tester", "s3cret")
WARM_UP, COOL_DOWN = 3.0, 3.0  # seconds of load before and after each operation


@pytest.fixture(scope="module")
def figures(server: dict) -> Iterator[dict[str, dict[str, object]]]:
    found: dict[str, dict[str, object]] = {}
    yield found
    print("\nzero-downtime figures (50 requests/s through nginx, TLS):")
    for name, summary in found.items():
        print(f"  {name}: {json.dumps(summary)}")


@pytest.fixture(scope="module")
def staging(server: dict) -> dict:
    """Staging deployed at develop, and an `unhealthy` branch whose health check fails."""
    env_file = server["root"] / "aletheia" / "envs" / f".env.{ENV}"
    env_file.write_text(env_file.read_text() + f"ALETHEIA_HEALTH_TOKEN={HEALTH_TOKEN}\n")
    work = server["root"] / "work"
    git("checkout", "-q", "-B", "unhealthy", "develop", cwd=work)
    healthcheck = work / "docker" / "healthcheck.py"
    healthcheck.write_text('import sys\n\nsys.exit("unhealthy on purpose")\n')
    git("commit", "-qam", "a release whose health check fails", cwd=work)
    git("checkout", "-q", "-B", "incompatible", "develop", cwd=work)
    migration = work / "aletheia" / "catalog" / "migrations" / "0099_incompatible.py"
    migration.write_text(INCOMPATIBLE_MIGRATION)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "a backward-incompatible migration", cwd=work)
    sh("git", "push", "-q", "--force", "origin", "unhealthy", "incompatible", cwd=work)
    server["shas"]["incompatible"] = git("rev-parse", "incompatible", cwd=work)
    out = deploy(server, ENV, "develop").stdout
    conf = server["root"] / "nginx" / "conf.d" / f"aletheia-{ENV}.conf"
    error_log = server["root"] / "nginx-run" / "logs" / "error.log"
    wait_for(
        lambda: release_served() == server["shas"]["develop"],
        30,
        lambda: (
            release_served(),
            curl(HOSTS[ENV], "/healthz", auth=True),
            out,
            conf.read_text(),
            error_log.read_text()[-2000:],
        ),
    )
    return server


HEALTH_TOKEN = "e2e-zero-downtime-health-token"
# a NOT NULL column without a default: the previous release's inserts would fail
INCOMPATIBLE_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_syncresult_recent")]
    operations = [migrations.AddField("centre", "mandatory", models.IntegerField())]
"""


def release_served() -> str:
    """The release nginx serves (/healthz shows it to whoever has the health token)."""
    probe = Load(HOSTS[ENV], HTTPS_PORT, auth=AUTH)
    status, body = probe.get("/healthz", {"X-Health-Token": HEALTH_TOKEN})
    return json.loads(body).get("release", "") if status == 200 else f"status {status}"


def wait_for(
    condition: Callable[[], bool], seconds: float, said: Callable[[], object] = lambda: ""
) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert condition(), said()


def resolved(server: dict) -> target.Target:
    settings = ServerSettings.from_environment({**os.environ, **server["env"]})
    return target.resolve(ENV, settings)


def under_load(
    server: dict, figures: dict, name: str, operation: Callable[[], object]
) -> tuple[dict[str, Any], object]:
    """Run `operation` while 50 requests/s go through nginx; assert none failed."""
    with Load(HOSTS[ENV], HTTPS_PORT, auth=AUTH, rate=50, max_seconds=400) as load:
        time.sleep(WARM_UP)
        load.mark("start")
        result = operation()
        load.mark("end")
        time.sleep(COOL_DOWN)
    summary = load.summary("start", "end")
    summary["operation_s"] = round(load.marks["end"] - load.marks["start"], 1)
    figures[name] = summary
    failures = [(s.at, s.status, s.error) for s in load.failures()][:10]
    assert summary["failed"] == 0, (name, summary, failures)
    assert summary["sent"] >= 50 * (WARM_UP + COOL_DOWN), summary
    return summary, result


def live_slot(server: dict) -> str | None:
    return resolved(server).web_slot


def containers(project: str, service: str) -> list[str]:
    out = sh(
        "docker",
        "ps",
        "--filter",
        f"label=com.docker.compose.project={project}",
        "--filter",
        f"label=com.docker.compose.service={service}",
        "--format",
        "{{.Names}}",
        check=False,
    ).stdout
    return out.split()


def test_a_new_image_is_deployed_without_a_failed_request(staging: dict, figures: dict) -> None:
    before = live_slot(staging)
    _, result = under_load(
        staging, figures, "deploy a new image", lambda: deploy(staging, ENV, "feature")
    )
    assert isinstance(result, subprocess.CompletedProcess)
    assert "health check: ok" in result.stdout
    after = live_slot(staging)
    assert after == slots.other(before)
    assert release_served() == staging["shas"]["feature"]
    # the old slot is gone, the live one runs web and worker; nginx, ps and the log say so
    assert containers(f"aletheia-{ENV}-{after}", "web")
    assert containers(f"aletheia-{ENV}-{after}", "celery")
    assert not containers(f"aletheia-{ENV}-{before or 'x'}", "web")
    assert not containers(f"aletheia-{ENV}", "web")  # the single web of before slots
    conf = (staging["root"] / "nginx" / "conf.d" / f"aletheia-{ENV}.conf").read_text()
    assert f"live web slot: {after}" in conf
    ps = sh("make", "ps", f"ENV={ENV}", cwd=REPO_ROOT, env=staging["env"]).stdout
    assert f"live web slot {after}" in ps
    log = sh("python3", "-m", "ops", "releases", ENV, cwd=REPO_ROOT, env=staging["env"]).stdout
    assert "succeeded" in log.strip().splitlines()[-1]
    entry = json.loads(
        (staging["root"] / "aletheia" / "state" / f"releases-{ENV}.jsonl")
        .read_text()
        .splitlines()[-1]
    )
    assert entry["web_slot"] == after


ENQUEUE = """
import json, time, uuid
from aletheia.core.tasks import ping
sent, end = [], time.monotonic() + {seconds}
while time.monotonic() < end:
    value = uuid.uuid4().hex
    ping.delay(value, 1)
    sent.append(value)
    time.sleep(1)
print("SENT " + json.dumps(sent))
"""

COUNT = """
import json
from django.core.cache import cache
sent = json.loads({sent!r})
print("COUNTS " + json.dumps({{value: cache.get("aletheia:ping:" + value) for value in sent}}))
"""


def one_off(server: dict, code: str) -> tuple[list[str], dict[str, str]]:
    """A manage.py shell one-off of staging's current release, and its environment."""
    env = resolved(server)
    sha = str((env.current_release() or {})["sha"])
    return commands.manage(env.at_release(sha), "shell", "-c", code), {
        **os.environ,
        **server["env"],
        **env.compose_env(commands.image_name(sha)),
    }


def test_a_redeploy_hands_tasks_over_exactly_once_and_never_runs_two_beats(
    staging: dict, figures: dict
) -> None:
    command, env = one_off(staging, ENQUEUE.format(seconds=40))
    enqueuer = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    beats: list[int] = []
    stop = threading.Event()

    def watch_beat() -> None:
        while not stop.is_set():
            beats.append(len(containers(f"aletheia-{ENV}", "celery_beat")))
            stop.wait(0.3)

    watcher = threading.Thread(target=watch_beat, daemon=True)
    time.sleep(8)  # tasks in flight on the old worker when the switch starts
    watcher.start()
    try:
        summary, _ = under_load(
            staging, figures, "redeploy, nothing changed", lambda: deploy(staging, ENV, "feature")
        )
    finally:
        stop.set()
        watcher.join()
        out, _ = enqueuer.communicate(timeout=120)
    assert max(beats) == 1, beats  # never two beats at once
    assert summary["operation_s"] <= 60
    sent = json.loads(out.split("SENT ", 1)[1].strip().splitlines()[0])
    assert len(sent) >= 40
    time.sleep(10)  # the last ones (3 s each, 2 at a time) complete
    command, env = one_off(staging, COUNT.format(sent=json.dumps(sent)))
    counts = json.loads(sh(*command, env=env).stdout.split("COUNTS ", 1)[1].strip().splitlines()[0])
    assert sorted(set(counts.values())) == [1], {k: v for k, v in counts.items() if v != 1}
    wait_for(lambda: bool(containers(f"aletheia-{ENV}", "celery_beat")), 10)


def test_a_rollback_switches_without_a_failed_request(staging: dict, figures: dict) -> None:
    summary, _ = under_load(
        staging,
        figures,
        "rollback",
        lambda: sh("make", "rollback", f"ENV={ENV}", cwd=REPO_ROOT, env=staging["env"]),
    )
    assert release_served() == staging["shas"]["develop"]
    staging["timings"]["rollback (switch)"] = [summary["operation_s"]]


def test_nginx_activate_reloads_without_a_failed_request(staging: dict, figures: dict) -> None:
    under_load(
        staging,
        figures,
        "nginx-activate",
        lambda: sh("make", "nginx-activate", f"ENV={ENV}", cwd=REPO_ROOT, env=staging["env"]),
    )


def test_a_failed_health_check_leaves_the_old_slot_serving(staging: dict, figures: dict) -> None:
    live = live_slot(staging)
    slow = {**staging["env"], "ALETHEIA_HEALTH_TIMEOUT": "15"}

    def failing_deploy() -> subprocess.CompletedProcess[str]:
        return sh("./deploy.sh", ENV, "unhealthy", cwd=REPO_ROOT, env=slow, check=False)

    _, result = under_load(staging, figures, "deploy, health check fails", failing_deploy)
    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "health check" in result.stderr
    assert live_slot(staging) == live
    assert release_served() == staging["shas"]["develop"]
    assert not containers(f"aletheia-{ENV}-{slots.other(live)}", "web")  # removed


def test_a_failed_migration_leaves_the_old_slot_serving(staging: dict, figures: dict) -> None:
    live = live_slot(staging)
    _, result = under_load(
        staging,
        figures,
        "deploy, migration fails",
        lambda: deploy(staging, ENV, "broken", check=False),
    )
    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 1
    assert "migrate" in result.stderr
    assert live_slot(staging) == live
    assert release_served() == staging["shas"]["develop"]


def test_backward_incompatible_migrations_are_refused_unless_maintenance(staging: dict) -> None:
    live = live_slot(staging)
    refused = deploy(staging, ENV, "incompatible", check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "backward-incompatible migrations" in refused.stderr
    assert "NOT NULL" in refused.stderr
    assert live_slot(staging) == live
    assert release_served() == staging["shas"]["develop"]
    out = deploy(staging, ENV, "incompatible", "--maintenance").stdout
    assert "maintenance: ok" in out
    assert release_served() == staging["shas"]["incompatible"]
    log = (staging["root"] / "aletheia" / "state" / f"releases-{ENV}.jsonl").read_text()
    entry = json.loads(log.splitlines()[-1])
    assert entry["maintenance"] is True
    assert entry["result"] == "succeeded"
    assert json.loads(log.splitlines()[-2])["result"] == "refused"


def test_a_rollback_takes_at_most_ten_seconds(staging: dict, figures: dict) -> None:
    Path(staging["root"], "zero-downtime.json").write_text(json.dumps(figures, indent=2))
    assert float(str(figures["rollback"]["operation_s"])) <= 10, figures["rollback"]


BENCH = os.environ.get("ALETHEIA_BENCH_DEPLOY") == "1"


@pytest.mark.skipif(not BENCH, reason="make bench-deploy (ALETHEIA_BENCH_DEPLOY=1)")
def test_bench_deploy_recreate_against_the_switch(staging: dict) -> None:
    """`make bench-deploy`: the same three operations with each strategy, side by side."""
    env = staging["env"]
    deploy(staging, ENV, "feature")  # both images exist before anything is measured
    sh("python3", "-m", "ops", "rollback", ENV, cwd=REPO_ROOT, env=env)
    operations: list[tuple[str, list[str]]] = [
        ("deploy (image switch)", ["./deploy.sh", ENV, "feature"]),
        ("redeploy, nothing changed", ["./deploy.sh", ENV, "feature"]),
        ("rollback", ["python3", "-m", "ops", "rollback", ENV]),
    ]
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for strategy in ("recreate", "switch"):
        for name, command in operations:
            with Load(HOSTS[ENV], HTTPS_PORT, auth=AUTH, rate=50, max_seconds=300) as load:
                time.sleep(WARM_UP)
                load.mark("start")
                sh(*command, "--strategy", strategy, cwd=REPO_ROOT, env=env)
                load.mark("end")
                time.sleep(COOL_DOWN)
            summary = load.summary("start", "end")
            summary["operation_s"] = round(load.marks["end"] - load.marks["start"], 1)
            rows.append((strategy, name, summary))
    header = (
        f"{'strategy':<9} {'operation':<26} {'sent':>5} {'failed':>6} {'outage s':>8} "
        f"{'p50/p99 steady ms':>18} {'p50/p99 during ms':>18} {'duration s':>10}"
    )
    lines = [header, "-" * len(header)]
    for strategy, name, s in rows:
        steady, during = s["steady_p50_p99_ms"], s["during_p50_p99_ms"]
        lines.append(
            f"{strategy:<9} {name:<26} {s['sent']:>5} {s['failed']:>6} "
            f"{s['longest_outage_s']:>8} {f'{steady[0]:.0f} / {steady[1]:.0f}':>18} "
            f"{f'{during[0]:.0f} / {during[1]:.0f}':>18} {s['operation_s']:>10}"
        )
    print("\nbench-deploy: 50 requests/s through nginx (TLS) on staging, during each operation\n")
    print("\n".join(lines))
    for strategy, name, s in rows:
        if s["failed"]:
            print(f"  {strategy} {name}: {s['errors']}")
    assert all(s["failed"] == 0 for strategy, _, s in rows if strategy == "switch"), rows
