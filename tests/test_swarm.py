"""runtime = "swarm": the matrix's rules, the stack file ops builds, how an update is read, the
commands a deploy plans (--dry-run). The real thing runs in tests/e2e/test_swarm.py."""

import io
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ops.runtimes import stack, swarm, swarm_resources, swarm_updates
from ops.runtimes.stack import BEAT, WEB, WORKER, Replicas
from ops.server import environments
from ops.server.environments import MatrixError
from tests.helpers import write_env_file

if TYPE_CHECKING:
    from ops.server.target import Target

PROD = environments.server_environments()["prod"]
SWARM_PROD = replace(PROD, runtime="swarm", web_replicas=3, worker_replicas=2)


def rendered(images: dict[str, str] | None = None) -> dict:
    images = images or dict.fromkeys(stack.SERVICES, "aletheia:abc")
    return stack.render(SWARM_PROD, images, Replicas(3, 2), "aletheia-prod-env-1", "net", 30)


def test_web_updates_start_first_and_rolls_back_by_itself() -> None:
    web = rendered()["services"][WEB]
    assert web["deploy"]["replicas"] == 3
    assert web["deploy"]["update_config"]["order"] == "start-first"
    assert web["deploy"]["update_config"]["failure_action"] == "rollback"
    assert web["deploy"]["rollback_config"]["order"] == "start-first"
    assert web["healthcheck"]["test"] == ["CMD", "python3", "/app/docker/healthcheck.py"]
    assert web["networks"] == {"shared": {"aliases": ["aletheia-prod-web-swarm"]}}
    assert web["stop_grace_period"] == "41s"  # nginx's resolver validity + 1 s, then the drain
    assert web["environment"]["ALETHEIA_STOP_DELAY"] == "11"
    assert web["deploy"]["endpoint_mode"] == "dnsrr"
    assert web["command"] == ["web"]


def test_memory_limit_and_reservation_come_from_the_matrix() -> None:
    resources = rendered()["services"][WEB]["deploy"]["resources"]
    assert resources == {"limits": {"memory": "768M"}, "reservations": {"memory": "384M"}}
    staging = replace(environments.server_environments()["staging"], runtime="swarm")
    web: dict = stack.service(staging, WEB, "i", Replicas(2, 1), "s", 30)
    assert web["deploy"]["resources"]["limits"]["memory"] == "512M"


def test_beat_is_one_and_stops_before_its_replacement_the_worker_scales() -> None:
    services = rendered()["services"]
    assert services[BEAT]["deploy"]["replicas"] == 1
    assert services[BEAT]["deploy"]["update_config"]["order"] == "stop-first"
    assert services[BEAT]["command"] == ["beat"]
    assert services[WORKER]["deploy"]["replicas"] == 2
    assert services[WORKER]["deploy"]["update_config"]["order"] == "start-first"
    assert services[WORKER]["stop_grace_period"] == "5m"  # warm shutdown, as docker-compose.yml


def test_the_env_file_is_a_secret_and_the_matrix_values_are_the_environment() -> None:
    built = rendered()
    for service in built["services"].values():
        assert service["secrets"] == [
            {
                "source": "aletheia-prod-env-1",
                "target": "aletheia.env",
                "uid": "1000",
                "gid": "1000",
                "mode": 0o400,
            }
        ]
        assert "env_file" not in service
        assert service["environment"]["ALETHEIA_HOST"] == PROD.host
        assert service["environment"]["REDIS_BROKER_DB"] == "1"
        assert service["environment"]["PORT"] == "8000"
    assert built["secrets"] == {"aletheia-prod-env-1": {"external": True}}
    assert built["networks"] == {"shared": {"external": True, "name": "net"}}
    # a new env file is a new secret (Docker's cannot change)
    assert stack.secret_name(PROD, "A=1") != stack.secret_name(PROD, "A=2")
    assert re.fullmatch(r"aletheia-prod-env-[0-9a-f]{12}", stack.secret_name(PROD, "A=1"))


def test_services_left_out_are_not_in_the_file() -> None:
    assert list(rendered({WEB: "aletheia:new"})["services"]) == [WEB]
    assert json.loads(stack.to_text(rendered()))["version"] == "3.8"


def test_the_matrix_refuses_a_swarm_row_that_cannot_roll(tmp_path: Path) -> None:
    text = environments.MATRIX_FILE.read_text()
    prod_runtime = 'backup_before_deploy = true   # pg_dump before migrating (--skip-backup: recorded)\nruntime = "compose"'
    assert prod_runtime in text
    for wrong, message in [
        (text.replace(prod_runtime, prod_runtime.replace("compose", "swarm")), "web_replicas >= 2"),
        (
            text.replace(
                prod_runtime, prod_runtime.replace('"compose"', '"swarm"\nweb_replicas = 2')
            ),
            "worker_replicas >= 1",
        ),
        (text.replace(prod_runtime, prod_runtime.replace("compose", "k8s")), "runtime = 'k8s'"),
        (
            text.replace(prod_runtime, prod_runtime + "\nweb_replicas = 3"),
            'for runtime = "swarm" only',
        ),
    ]:
        (tmp_path / "environments.toml").write_text(wrong)
        with pytest.raises(MatrixError, match=re.escape(message)):
            environments.load(tmp_path / "environments.toml")
    fine = text.replace(
        prod_runtime,
        prod_runtime.replace('"compose"', '"swarm"\nweb_replicas = 2\nworker_replicas = 1'),
    )
    (tmp_path / "environments.toml").write_text(fine)
    assert environments.load(tmp_path / "environments.toml")["prod"].on_swarm


def inspected(state: str | None, started: str, replicas: int = 2) -> dict:
    found: dict = {"Spec": {"Mode": {"Replicated": {"Replicas": replicas}}}}
    if state:
        found["UpdateStatus"] = {"State": state, "StartedAt": started, "Message": "m"}
    return found


NOW = 1_800_000_000.0
STAMP = "2027-01-15T08:00:00.123456789Z"  # NOW


def test_an_update_is_done_when_every_task_runs_the_new_image() -> None:
    new, old = "aletheia:new|Running 3 seconds ago|", "aletheia:old|Running 2 hours ago|"
    assert swarm_updates.progress(
        inspected("updating", STAMP), [new, old], "aletheia:new", NOW
    ).state == ("waiting")
    assert swarm_updates.progress(
        inspected("completed", STAMP), [new, new], "aletheia:new", NOW
    ).state == ("done")
    starting = "aletheia:new|Starting 1 second ago|"
    assert swarm_updates.progress(
        inspected(None, ""), [new, starting], "aletheia:new", NOW
    ).state == ("waiting")
    # nothing changed: no update at all, every task already runs it
    assert (
        swarm_updates.progress(inspected(None, ""), [new, new], "aletheia:new", NOW).state == "done"
    )
    digest = "aletheia:new@sha256:0123|Running 1 second ago|"
    assert (
        swarm_updates.progress(inspected(None, ""), [digest, new], "aletheia:new", NOW).state
        == "done"
    )


def test_a_rollback_by_swarm_is_a_failure_once_it_is_complete_and_only_if_it_is_ours() -> None:
    old = "aletheia:old|Running 2 hours ago|"
    rolling = swarm_updates.progress(
        inspected("rollback_started", STAMP), [old], "aletheia:new", NOW
    )
    assert rolling.state == "waiting"
    done = swarm_updates.progress(
        inspected("rollback_completed", STAMP, 1), [old], "aletheia:new", NOW
    )
    assert (done.state, done.said) == ("failed", "0/1 running aletheia:new (rollback_completed): m")
    # a rollback of an earlier deploy says nothing about this one
    earlier = "2027-01-15T07:00:00Z"
    new = "aletheia:new|Running 1 second ago|"
    assert swarm_updates.progress(
        inspected("rollback_completed", earlier, 1), [new], "aletheia:new", NOW
    ).state == ("done")


def swarm_staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> "Target":
    """Staging on swarm (2 web, 1 worker), on a server rooted at tmp_path whose docker binary
    answers "no" to everything."""
    from ops.server import target
    from ops.server.settings import ServerSettings

    write_env_file(
        tmp_path / "aletheia" / "envs" / ".env.staging",
        DATABASE_URL="postgres://x@db/x",
        REDIS_URL="redis://r:6379",
        BREVO_API_KEY="k",
    )
    monkeypatch.setenv("ALETHEIA_SERVER_ROOT", str(tmp_path))
    monkeypatch.setenv("ALETHEIA_NETWORK", "shared")
    monkeypatch.setenv("ALETHEIA_DOCKER", "false")
    staging = target.resolve("staging", ServerSettings.from_environment())
    on_swarm = replace(staging.environment, runtime="swarm", web_replicas=2, worker_replicas=1)
    return replace(staging, environment=on_swarm)


def test_replicas_scaled_by_hand_are_kept_for_the_next_deploys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staging = swarm_staging(tmp_path, monkeypatch)
    assert swarm.replicas(staging) == Replicas(2, 1)
    swarm.replicas_file(staging).parent.mkdir(parents=True)
    swarm.replicas_file(staging).write_text('{"web": 3, "worker": 2}')
    assert swarm.replicas(staging) == Replicas(3, 2)
    assert staging.web_slot is None
    assert staging.compose_env("aletheia:x")["ALETHEIA_DOCKER_NETWORK"] == "aletheia-swarm"


def test_a_swarm_deploy_on_an_engine_not_in_a_swarm_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ops.core.runner import Refusal, Runner

    staging = swarm_staging(tmp_path, monkeypatch)
    with pytest.raises(Refusal, match=r"not a swarm manager.*docker swarm init"):
        swarm.preflight(staging, Runner())
    host = replace(staging, server=replace(staging.server, network="host"))
    with pytest.raises(Refusal, match="needs ALETHEIA_NETWORK=shared"):
        swarm.preflight(host, Runner())


def test_beyond_one_node_the_release_is_pushed_to_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ops.core.runner import Refusal, Runner

    staging = swarm_staging(tmp_path, monkeypatch)
    monkeypatch.setattr(swarm_resources, "node_count", lambda target, runner: 3)
    runner = Runner(dry_run=True)
    assert (
        swarm_resources.release_image(staging, runner, "abc") == "aletheia:abc"
    )  # no registry set
    monkeypatch.setattr(swarm, "_swarm_state", lambda target, runner: "active true")
    with pytest.raises(Refusal, match=r"3 nodes.*ALETHEIA_REGISTRY"):
        swarm.preflight(staging, runner)
    registered = replace(staging, server=replace(staging.server, registry="registry.lan:5000"))
    out = io.StringIO()
    runner = Runner(dry_run=True, out=out)
    assert (
        swarm_resources.release_image(registered, runner, "abc") == "registry.lan:5000/aletheia:abc"
    )
    assert "false tag aletheia:abc registry.lan:5000/aletheia:abc" in out.getvalue()
    assert "false push registry.lan:5000/aletheia:abc" in out.getvalue()
    monkeypatch.setattr(swarm_resources, "node_count", lambda target, runner: 1)
    assert (
        swarm_resources.release_image(registered, runner, "abc") == "aletheia:abc"
    )  # one node: local
