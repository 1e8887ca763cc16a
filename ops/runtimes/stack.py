"""The Docker Swarm stack of a `runtime = "swarm"` environment, built from its matrix row (pure:
no I/O). ops writes it as JSON (YAML's subset, which `docker stack deploy -c` reads) to
$ROOT/aletheia/stacks/ENV.json and deploys it as the stack aletheia-ENV.

What the compose files say for a server environment, the stack says too, from the same facts:
the app's environment (ops/server/compose.py's `app_environment`, the same function the compose
overlays are rendered with), the web memory, the roles of the one image (docker/start: web,
worker, beat) and the worker's warm shutdown. What differs is what Swarm adds: replicas, rolling
updates that start a new web task before stopping an old one and roll back by themselves when
it never gets healthy, and the env file handed over as a Docker secret instead of `env_file`
(docker/start exports it; what the matrix sets still wins, as Compose's `environment` does).
"""

import hashlib
import json
from dataclasses import dataclass

from ops.edge.nginx import RESOLVER_VALID_SECONDS
from ops.server import slots
from ops.server.compose import app_environment
from ops.server.envfile import DEFAULT_PORT
from ops.server.environments import Environment

WEB, WORKER, BEAT = "web", "celery", "celery_beat"  # the compose files' service names
SERVICES = (WEB, WORKER, BEAT)
ROLES = {WEB: "web", WORKER: "worker", BEAT: "beat"}  # docker/start's roles
SECRET_TARGET = "aletheia.env"  # noqa: S105 - a file name: /run/secrets/aletheia.env, docker/start reads it
# A stopping web task leaves the service's DNS at once; it serves this much longer (docker/start)
# so that nginx, which may hold its address until its resolver's answer expires, never finds it
# gone.
STOP_DELAY_SECONDS = RESOLVER_VALID_SECONDS + 1
APP_UID = "1000"  # the image's user (docker/Dockerfile): the secret is readable by it only
WORKER_STOP_GRACE = "5m"  # as docker-compose.yml: SIGTERM is a warm shutdown, running syncs finish
# Every role's container runs docker/healthcheck.py (the image's HEALTHCHECK), more often here:
# a rolling update moves on when the new task is healthy, and a task never healthy is rolled
# back once the start period and three failed checks have passed.
HEALTHCHECK = {
    "test": ["CMD", "python3", "/app/docker/healthcheck.py"],
    "interval": "2s",
    "timeout": "3s",
    "retries": 3,
    "start_period": "20s",
}


@dataclass(frozen=True)
class Replicas:
    web: int
    worker: int

    @classmethod
    def of(cls, environment: Environment) -> "Replicas":
        return cls(environment.web_replicas, environment.worker_replicas)


def stack_name(environment: Environment) -> str:
    return f"aletheia-{environment.name}"


def service_name(environment: Environment, service: str) -> str:
    return f"{stack_name(environment)}_{service}"


def web_alias(environment: Environment) -> str:
    """What nginx-proxy asks Docker's DNS for on the overlay network: the addresses of the web
    service's healthy tasks."""
    return slots.alias(environment.name, slots.SWARM_SLOT)


def secret_name(environment: Environment, env_file_text: str) -> str:
    """Docker secrets cannot change: a new env file is a new secret, named by its content."""
    digest = hashlib.sha256(env_file_text.encode()).hexdigest()[:12]
    return f"aletheia-{environment.name}-env-{digest}"


def reservation(limit: str) -> str:
    """Half the limit is reserved: about what a web container uses once warm (docs/deployment/swarm.md
    has the figures), so the scheduler places a task only where it
    fits, while the limit keeps room for a busy moment."""
    number, unit = int(limit[:-1]), limit[-1].upper()
    return f"{number // 2}{unit}"


def _update(order: str) -> dict[str, object]:
    return {
        "parallelism": 1,
        "delay": "0s",
        "order": order,
        "failure_action": "rollback",
        "monitor": "5s",
        "max_failure_ratio": 0,
    }


def _rollback(order: str) -> dict[str, object]:
    return {"parallelism": 1, "delay": "0s", "order": order, "failure_action": "pause"}


def service(
    environment: Environment,
    name: str,
    image: str,
    replicas: Replicas,
    secret: str,
    drain_seconds: int,
) -> dict[str, object]:
    """One service of the stack: `web` (start-first, behind the alias), `celery` (start-first:
    the new worker consumes before the old one shuts down warm) or `celery_beat` (one, the old
    stopped before the new starts: a schedule never runs twice)."""
    deploy: dict[str, object] = {
        "replicas": {WEB: replicas.web, WORKER: replicas.worker, BEAT: 1}[name],
        "update_config": _update("stop-first" if name == BEAT else "start-first"),
        "rollback_config": _rollback("stop-first" if name == BEAT else "start-first"),
        "restart_policy": {"condition": "any", "delay": "2s"},
        # DNS round robin over the tasks, not a virtual IP: Swarm's virtual IPs (IPVS, as its
        # routing mesh) do not forward on every host (they do not on the machines the e2e runs
        # on); nginx re-resolves the name and retries a refused connection on the next address
        "endpoint_mode": "dnsrr",
        "labels": {"org.aletheia.env": environment.name},
    }
    if name == WEB and environment.web_memory:
        deploy["resources"] = {
            "limits": {"memory": environment.web_memory},
            "reservations": {"memory": reservation(environment.web_memory)},
        }
    definition: dict[str, object] = {
        "image": image,
        "command": [ROLES[name]],
        # the swarm web listens where nginx-proxy expects it, whatever the env file says
        "environment": {
            **app_environment(environment),
            "PORT": str(DEFAULT_PORT),
            **({"ALETHEIA_STOP_DELAY": str(STOP_DELAY_SECONDS)} if name == WEB else {}),
        },
        "secrets": [
            {
                "source": secret,
                "target": SECRET_TARGET,
                "uid": APP_UID,
                "gid": APP_UID,
                "mode": 0o400,
            }
        ],
        "networks": {"shared": {"aliases": [web_alias(environment)]} if name == WEB else {}},
        "healthcheck": HEALTHCHECK,
        "stop_grace_period": WORKER_STOP_GRACE
        if name == WORKER
        else f"{drain_seconds + (STOP_DELAY_SECONDS if name == WEB else 0)}s",
        "deploy": deploy,
    }
    return definition


def render(
    environment: Environment,
    images: dict[str, str],
    replicas: Replicas,
    secret: str,
    network: str,
    drain_seconds: int,
) -> dict[str, object]:
    """The stack file of `environment` running `images` (service -> image; the services left
    out are not in the file, so `docker stack deploy` leaves them as they run)."""
    return {
        "version": "3.8",
        "services": {
            name: service(environment, name, images[name], replicas, secret, drain_seconds)
            for name in SERVICES
            if name in images
        },
        "networks": {"shared": {"external": True, "name": network}},
        "secrets": {secret: {"external": True}},
    }


def to_text(stack: dict[str, object]) -> str:
    return json.dumps(stack, indent=2) + "\n"
