"""A `runtime = "swarm"` environment (environments.toml): the release runs as the Docker Swarm stack
aletheia-ENV (ops/runtimes/stack.py builds its file), updated by Swarm's own rolling updates.

The deploy is the compose deploy up to the switch (fetch, build, migration lint, backup, check,
migrations and collectstatic in one-off containers on the stack's overlay network, while the
previous release serves); the switch's steps then mean:

  start web     the overlay network and the env file's secret exist; the stack file with the
                new image for web only (worker and beat not in it: left as they run), deployed
  health check  Swarm starts a new web task beside each old one (start-first), waits until it
                is healthy, then stops the old one; a task never healthy makes Swarm roll the
                service back by itself (failure_action: rollback): the step fails, the previous
                release serves
  nginx         nginx-proxy's config points at the web service's alias (its virtual IP)
  worker        compose containers of the environment, if it ran on compose before, are
                removed; the whole stack deployed: the worker updated start-first
  drain         nothing to do: Swarm stops each old task within its stop_grace_period
  beat          beat updated stop-first (the old one stops before the new one starts)
"""

import json
import sys
import time
from pathlib import Path

from ops.core import locks
from ops.core.runner import Refusal, Runner
from ops.edge import nginx
from ops.runtimes import stack, swarm_resources, swarm_updates
from ops.runtimes.stack import BEAT, WEB, WORKER, Replicas
from ops.server import slots
from ops.server.target import Target
from ops.steps import commands
from ops.steps.attempt import Attempt

SECONDS_PER_TASK = 30  # how long a wait allows each task beyond the health timeout


def update_timeout(target: Target) -> float:
    """How long a service's update may take: the health timeout, and a bound per web task."""
    return target.server.health_timeout + SECONDS_PER_TASK * max(replicas(target).web, 1)


def preflight(target: Target, runner: Runner) -> None:
    """What a swarm environment needs before anything changes (each a refusal)."""
    if target.server.network != "shared":
        raise Refusal(
            f'{target.name} has runtime = "swarm": it needs ALETHEIA_NETWORK=shared (the stack '
            "and nginx-proxy meet on an overlay network), not host networking"
        )
    state = _swarm_state(target, runner)
    if state != "active true":
        raise Refusal(
            f'{target.name} has runtime = "swarm" but this Docker engine is not a swarm '
            f"manager ({state or 'no answer'}): "
            "docker swarm init (docs/deployment/swarm.md)"
        )
    nodes = swarm_resources.node_count(target, runner)
    if nodes > 1 and not target.server.registry:
        raise Refusal(
            f"the swarm has {nodes} nodes: the others cannot pull {commands.image_name('SHA')} "
            "from this one; set ALETHEIA_REGISTRY (server.env) to a registry they all reach"
        )


def _swarm_state(target: Target, runner: Runner) -> str:
    """`active true` on a swarm manager."""
    state = runner.run(
        commands.swarm_state(target.server), check=False, capture=True, mutating=False
    )
    return (state.stdout or state.stderr).strip()


def replicas_file(target: Target) -> Path:
    return target.server.state_dir / f"swarm-replicas-{target.name}.json"


def replicas(target: Target) -> Replicas:
    """What `make scale` set last, else the matrix's."""
    path = replicas_file(target)
    if path.is_file():
        saved = json.loads(path.read_text())
        return Replicas(int(saved["web"]), int(saved["worker"]))
    return Replicas.of(target.environment)


def stack_file(target: Target) -> Path:
    return target.server.root / "aletheia" / "stacks" / f"{target.name}.json"


def deploy_stack(target: Target, runner: Runner, images: dict[str, str], secret: str) -> None:
    text = stack.to_text(
        stack.render(
            target.environment,
            images,
            replicas(target),
            secret,
            target.server.swarm_network,
            target.server.drain_seconds,
        )
    )
    path = stack_file(target)
    if runner.dry_run:
        runner.say(f"    would write {path}:\n{text}")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    runner.run(
        commands.stack_deploy(target.server, path, stack.stack_name(target.environment)),
        capture=True,
    )


def _set_nginx(target: Target, runner: Runner) -> None:
    with locks.server_wide(target.server.state_dir, "nginx config", runner.say, runner.dry_run):
        nginx.activate(target, runner)


# the environment's project and its web slots' (ops/server/slots.py)
COMPOSE_PROJECTS = ("", "-blue", "-green")


def retire_compose(target: Target, runner: Runner) -> None:
    """An environment moving from compose to swarm: its compose containers (web slots, worker,
    beat) stop once nginx sends every request to the stack, before the stack's beat starts
    (never two beats)."""
    project = commands.project_name(target.environment)
    found: list[str] = []
    for suffix in COMPOSE_PROJECTS:
        listed = runner.run(
            commands.containers_of_project(target.server, f"{project}{suffix}"),
            check=False,
            capture=True,
            mutating=False,
        )
        found += listed.stdout.split()
    if not found:
        return
    runner.say(f"    {len(found)} container(s) of {target.name} under compose: stopped and removed")
    if not runner.dry_run:  # nginx's reload settles (its old workers finish with the old web)
        time.sleep(target.server.settle_seconds)
    drain = str(target.server.drain_seconds)
    runner.run([target.server.docker, "stop", "-t", drain, *found], capture=True)
    runner.run([target.server.docker, "rm", *found], capture=True)
    if not runner.dry_run:
        slots.state_file(target.server, target.name).unlink(missing_ok=True)


def switch_to(
    target: Target, runner: Runner, this: Attempt | None, sha: str, strategy: str = "switch"
) -> None:
    """Run release `sha` as the stack, through Swarm's rolling updates (the module's docstring
    says what each step does), whatever the strategy. Deploys, rollbacks, restarts and restores
    share it."""
    if this:
        this.note(runtime="swarm")
    with runner.step("start web"):
        preflight(target, runner)
        image = swarm_resources.release_image(target, runner, sha)
        swarm_resources.ensure_network(target, runner)
        secret = swarm_resources.ensure_secret(target, runner)
        wanted = replicas(target)
        runner.say(
            f"    {image}: web x{wanted.web} (start-first), worker x{wanted.worker}, beat x1"
        )
        since = time.time()
        deploy_stack(target, runner, {WEB: image}, secret)
    with runner.step("health check"):
        swarm_updates.wait_converged(target, runner, WEB, image, since, update_timeout(target))
    with runner.step("nginx"):
        runner.say(f"    upstream: {stack.web_alias(target.environment)} (the web service)")
        _set_nginx(target, runner)
    with runner.step("worker"):
        retire_compose(target, runner)
        since = time.time()
        deploy_stack(target, runner, {WEB: image, WORKER: image, BEAT: image}, secret)
        swarm_updates.wait_converged(target, runner, WORKER, image, since, update_timeout(target))
    with runner.step("drain"):
        runner.say("    skipped: Swarm stopped each old task once its replacement was healthy")
    with runner.step("beat"):
        swarm_updates.wait_converged(target, runner, BEAT, image, since, update_timeout(target))
        swarm_resources.prune_secrets(target, runner, keep=secret)


def stop(target: Target, runner: Runner) -> None:
    """Every service at 0 tasks (a restore replaces the schema); the next switch scales back."""
    names = [stack.service_name(target.environment, s) for s in stack.SERVICES]
    runner.run(commands.service_scale(target.server, dict.fromkeys(names, 0)), capture=True)
    if runner.dry_run:
        return
    deadline = time.monotonic() + target.server.drain_seconds + 30
    while time.monotonic() < deadline:
        left = [
            name
            for name in names
            if runner.run(
                commands.service_containers(target.server, name),
                check=False,
                capture=True,
                mutating=False,
            ).stdout.strip()
        ]
        if not left:
            return
        time.sleep(1)


def scale(target: Target, runner: Runner, web: int | None, worker: int | None) -> None:
    """New replica counts, kept for the next deploys ($ROOT/aletheia/state)."""
    current = replicas(target)
    wanted = Replicas(
        current.web if web is None else web, current.worker if worker is None else worker
    )
    if wanted.web < 2:
        raise Refusal("web needs 2 replicas or more (one serves while another is replaced)")
    if wanted.worker < 1:
        raise Refusal("the worker needs 1 replica or more")
    images = {s: swarm_updates.running_image(target, runner, s) for s in (WEB, WORKER)}
    if None in images.values() and not runner.dry_run:
        raise Refusal(f"nothing is deployed to {target.name} yet: ./deploy.sh {target.name}")
    since = time.time()
    runner.run(
        commands.service_scale(
            target.server,
            {
                stack.service_name(target.environment, WEB): wanted.web,
                stack.service_name(target.environment, WORKER): wanted.worker,
            },
        ),
        capture=True,
    )
    if not runner.dry_run:
        replicas_file(target).parent.mkdir(parents=True, exist_ok=True)
        replicas_file(target).write_text(json.dumps({"web": wanted.web, "worker": wanted.worker}))
    for service, image in images.items():
        swarm_updates.wait_converged(
            target, runner, service, str(image), since, update_timeout(target)
        )


def web_container(target: Target, runner: Runner) -> str:
    """A running web task's container on this node, a healthy one if there is one."""
    listed = runner.run(
        commands.service_containers(target.server, stack.service_name(target.environment, WEB)),
        check=False,
        capture=True,
        mutating=False,
    )
    rows = [line.split(" ", 1) for line in listed.stdout.splitlines() if line.strip()]
    rows.sort(key=lambda row: "(healthy)" not in row[-1])
    if not rows:
        raise Refusal(
            f"no web task of {stack.stack_name(target.environment)} runs on this node "
            f"(docker service ps {stack.service_name(target.environment, WEB)})"
        )
    return rows[0][0]


# `docker exec` starts a process beside the entrypoint, not through it: through docker/start
# again, it gets the env file's values from the secret as the task's own processes have them.
ENTRYPOINT = "/app/docker/start"


def web_exec(target: Target, runner: Runner, *args: str, tty: bool = False) -> list[str]:
    container = web_container(target, runner)
    return commands.container_exec(target.server, container, ENTRYPOINT, *args, tty=tty)


def shell(target: Target, runner: Runner) -> int:
    command = web_exec(target, runner, "bash", tty=sys.stdin.isatty())
    return runner.run(command, check=False).returncode


def ps_commands(target: Target) -> list[list[str]]:
    name = stack.stack_name(target.environment)
    return [commands.stack_services(target.server, name), commands.stack_tasks(target.server, name)]


def logs_commands(
    target: Target, runner: Runner, since: str | None, tail: str, follow: bool
) -> tuple[list[list[str]], list[list[str]]]:
    """`make logs`: following, each service's lines together (`docker service logs -f`: tasks
    started later are followed too); else each running task's, one after the other (by task:
    the logs of a service with tasks long gone may never end, with Docker 20.10)."""
    names = [stack.service_name(target.environment, s) for s in stack.SERVICES]
    if follow:
        return [], [commands.service_logs(target.server, n, since, tail, True) for n in names]
    each = []
    for name in names:
        listed = runner.run(
            commands.running_tasks(target.server, name), check=False, capture=True, mutating=False
        )
        each += [
            commands.service_logs(target.server, task, since, tail, False)
            for task in listed.stdout.split()
        ]
    return each, []


def ps(target: Target, runner: Runner) -> int:
    """The stack's services (replicas) and their tasks."""
    wanted = replicas(target)
    print(f"{target.name}: swarm stack, web x{wanted.web}, worker x{wanted.worker}, beat x1")
    codes = [runner.run(c, check=False).returncode for c in ps_commands(target)]
    return next((code for code in codes if code), 0)


def down(target: Target, runner: Runner) -> None:
    remove(target, runner)


def remove(target: Target, runner: Runner) -> None:
    runner.run(commands.stack_remove(target.server, stack.stack_name(target.environment)))
