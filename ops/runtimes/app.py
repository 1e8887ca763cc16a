"""The compose-slots runtime (ops/runtimes/runtime.py's `Runtime`): an environment's web in two
slots (blue, green) as their own compose projects, worker and beat beside them. Start a release's
image, wait until it is healthy, switch nginx to it, stop it; ps, logs, shell and down of the
live slot. Also the pieces every runtime's flow uses: the release's files, its image, the static
directory (host networking)."""

import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ops.core import locks
from ops.core.runner import Refusal, Runner, StepFailed
from ops.edge import nginx
from ops.server import slots
from ops.server.settings import ServerSettings
from ops.server.target import Target
from ops.steps import commands
from ops.steps.attempt import Attempt

APP_SERVICES = ("web", "celery", "celery_beat")
APP_UID = 1000  # the image's user (docker/Dockerfile): collectstatic writes as it


def with_release_files(target: Target, runner: Runner, sha: str) -> Target:
    """The target running compose with release `sha`'s own compose files, extracted from its
    commit into $ROOT/aletheia/releases/<sha>/ (never from the checkout's working tree). The
    folder is shared by every environment deploying that commit: each adds the files it
    lacks (staging's overlay after dev's deploy of the same commit)."""
    folder = target.server.releases_dir / sha
    files = commands.release_files(target.environment, target.server)
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        with tempfile.TemporaryDirectory(prefix=f"aletheia-release-{sha[:12]}-") as workdir:
            tarball, partial = Path(workdir, "files.tar"), Path(workdir, "files")
            partial.mkdir()
            runner.run(commands.git_archive_files(target.server, sha, tarball, missing))
            runner.run(commands.untar(tarball, partial))
            if not runner.dry_run:
                folder.mkdir(parents=True, exist_ok=True)
                for name in missing:
                    (partial / name).replace(folder / name)
    return target.at_release(sha)


def prepare_static(target: Target, runner: Runner, sha: str) -> None:
    """Host networking: the directory the static files are bound to exists, readable by
    nginx's worker (0755) and writable by the image's user. Shared: a docker volume."""
    if target.server.network != "host":
        return
    folder = Path(target.server.static_host_dir(target.name))
    if runner.dry_run:
        runner.say(f"    would make {folder} (0755, owned by uid {APP_UID})")
        return
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    if folder.stat().st_uid == APP_UID:
        return
    try:
        os.chown(folder, APP_UID, APP_UID)
    except PermissionError:  # not root (a docker group member): the image's root does it
        runner.run(
            [
                target.server.docker,
                "run",
                "--rm",
                "--user",
                "0",
                "--entrypoint",
                "chown",
                "-v",
                f"{folder}:/static",
                commands.image_name(sha),
                f"{APP_UID}:{APP_UID}",
                "/static",
            ],
            capture=True,
        )


def use_image(target: Target, runner: Runner, sha: str) -> None:
    """Compose commands from now on run `sha`'s image (one-offs included)."""
    runner.env.update(target.compose_env(commands.image_name(sha)))


def wait_healthy(target: Target, runner: Runner) -> None:
    timeout = target.server.health_timeout
    deadline = time.monotonic() + timeout
    while True:
        result = runner.run(
            web_exec(target, runner, *commands.HEALTHCHECK), check=False, capture=True
        )
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise StepFailed(
                f"step 'health check' failed: /healthz not 200 within {timeout:.0f}s"
                f" ({(result.stdout or result.stderr).strip()[-200:]})"
            )
        time.sleep(0.25)  # each try is itself a `compose exec` (~0.5 s): poll again soon


def preflight(target: Target, runner: Runner) -> None:
    """Nothing to refuse before a compose deploy changes anything."""


def web_exec(target: Target, runner: Runner, *args: str) -> list[str]:
    """A command in the live slot's web container."""
    return commands.web_exec(target, *args)


def run_manage(target: Target, runner: Runner, *args: str) -> None:
    """manage.py in a one-off container of the image in use."""
    runner.run(commands.manage(target, *args), capture=True)


def stop(target: Target, runner: Runner) -> None:
    """Stop the whole app (a restore replaces the schema): the live slot, beat, and the legacy
    single web and worker if they still exist."""
    if target.web_slot:
        runner.run(commands.stop(target, target.web_slot, *slots.SLOT_SERVICES))
    runner.run(commands.stop(target, None, *APP_SERVICES))


STRATEGIES = ("switch", "recreate")


def default_strategy(server: ServerSettings) -> str:
    """ALETHEIA_DEPLOY_STRATEGY (server.env or the environment), else the switch."""
    return server.deploy_strategy if server.deploy_strategy in STRATEGIES else "switch"


def _set_nginx(target: Target, runner: Runner) -> None:
    with locks.server_wide(target.server.state_dir, "nginx config", runner.say, runner.dry_run):
        nginx.activate(target, runner)


# The switch's steps, always all of them (docs/deployment/deploy.md numbers them within a deploy's).
SWITCH_STEPS = ("start web", "health check", "nginx", "worker", "drain", "beat")


def switch_to(
    target: Target,
    runner: Runner,
    this: Attempt | None,
    sha: str,
    strategy: str = "switch",
) -> None:
    """Run `sha`'s image. The switch: start its web in the slot not live, wait until /healthz
    answers 200, point nginx at it (nginx -t, reload), start its worker, then drain and stop
    the old slot's web (SIGTERM: in-flight requests finish) and worker (warm shutdown), and
    recreate beat (the old one stops before the new one starts). A failure before nginx
    switched removes the new slot: the old one never stopped serving. `recreate`: the
    containers of the live slot recreated in place (requests fail meanwhile). Deploys,
    rollbacks, restarts and restores share it."""
    recover = this.recover_with if this else (lambda what, action: None)
    old = target.web_slot
    new = old if strategy == "recreate" and old else slots.other(old)
    use_image(target, runner, sha)
    fresh = target.with_slot(new)
    before = f"slot {old}" if old else "the single web"
    if not runner.dry_run:
        slots.write_overlay(fresh, new)
    if strategy == "recreate":
        _recreate_in_place(target, fresh, runner, recover, sha)
        return

    def remove_new() -> None:
        runner.run(commands.rm(fresh, new, *slots.SLOT_SERVICES), check=False)

    recover(f"removing slot {new} ({before} keeps serving)", remove_new)
    with runner.step("start web"):
        runner.say(f"    {before} serves; {sha[:12]} starts in slot {new}")
        runner.run(commands.rm(fresh, new, *slots.SLOT_SERVICES), capture=True)  # leftovers
        runner.run(commands.up_slot(fresh, new, "web"), capture=True)
    with runner.step("health check"):
        if not runner.dry_run:
            wait_healthy(fresh, runner)

    def put_back() -> None:
        _set_nginx(target, runner)
        if old:
            slots.record(target.server, target.name, old)
        else:
            slots.state_file(target.server, target.name).unlink(missing_ok=True)
        runner.run(commands.rm(fresh, new, *slots.SLOT_SERVICES), check=False)

    # registered before nginx changes: an interruption during the reload (or just after it)
    # points nginx back before the new slot is removed
    recover(f"nginx back to {before}, slot {new} removed", put_back)
    with runner.step("nginx"):
        runner.say(f"    upstream: slot {new}")
        _set_nginx(fresh, runner)
        if not runner.dry_run:
            slots.record(target.server, target.name, new)
    with runner.step("worker"):  # the new worker runs before the old one is stopped
        runner.run(commands.up_slot(fresh, new, "celery"), capture=True)
    recover("", None)  # from here on the new release serves; what follows only stops the old
    with runner.step("drain"):
        runner.say(
            f"    {before}: SIGTERM to its web (up to {target.server.drain_seconds}s)"
            " and its worker at once"
        )
        if not runner.dry_run:
            time.sleep(target.server.settle_seconds)
        # both at once: the web drains (gunicorn finishes what is in flight) while the worker
        # shuts down warm (its running tasks finish, within its stop_grace_period)
        stops = [
            commands.stop(target, old, "web", timeout=target.server.drain_seconds),
            commands.stop(target, old, "celery"),
        ]
        with ThreadPoolExecutor(len(stops)) as pool:
            for done in [pool.submit(runner.run, stop, capture=True) for stop in stops]:
                done.result()
        runner.run(commands.rm(target, old, "web", "celery"), capture=True)
    with runner.step("beat"):
        runner.run(commands.up_beat(fresh), capture=True)


def _recreate_in_place(
    target: Target,
    fresh: Target,
    runner: Runner,
    recover: Callable[[str, Callable[[], None] | None], None],
    sha: str,
) -> None:
    """--strategy recreate: the live slot's containers replaced where they run."""
    new = str(fresh.web_slot)
    previous = target.current_release()
    if previous:
        previous_sha = str(previous["sha"])
        recover(
            f"putting back the previous release {previous.get('ref')} ({previous_sha[:12]})",
            lambda: _recreate(target.at_release(previous_sha), runner, new, previous_sha),
        )
    with runner.step("start web"):
        runner.say(f"    slot {new}: web and worker recreated in place (recreate)")
        _recreate(fresh, runner, new, sha)
    with runner.step("health check"):
        if not runner.dry_run:
            wait_healthy(fresh, runner)
    with runner.step("nginx"):
        _set_nginx(fresh, runner)
        if not runner.dry_run:
            slots.record(target.server, target.name, new)
    with runner.step("worker"):
        runner.say("    skipped: recreated with the web (recreate)")
    with runner.step("drain"):
        if target.web_slot is None:
            runner.run(commands.rm(target, None, "web", "celery"), capture=True)
        else:
            runner.say("    skipped: nothing ran beside (recreate)")
    with runner.step("beat"):
        runner.say("    recreated with the web (recreate)")
    recover("", None)


def _recreate(target: Target, runner: Runner, slot: str, sha: str) -> None:
    use_image(target, runner, sha)
    runner.run(commands.up_slot(target, slot, *slots.SLOT_SERVICES), capture=True)
    runner.run(commands.up_beat(target), capture=True)


def log_projects(target: Target) -> list[tuple[str, str | None]]:
    """The Compose projects `make logs` reads, as (project, slot): the environment's own (beat,
    a legacy web) and its live web slot's (web and worker, ops/server/slots.py)."""
    main = commands.project_name(target.environment)
    if target.web_slot is None:
        return [(main, None)]
    return [(main, None), (f"{main}-{target.web_slot}", target.web_slot)]


def logs_commands(
    target: Target, runner: Runner, since: str | None, tail: str, follow: bool
) -> tuple[list[list[str]], list[list[str]]]:
    """`make logs`: the last `tail` lines (from `since` on), following unless told not to.
    Returns the commands to run one after the other, then those to run together (one follower
    per project). Compose v1 has no `logs --since`: each container's `docker logs --since`,
    then (to follow) compose's own follow of the new lines."""
    projects = log_projects(target)
    follow_flags = ["-f"] if follow else []
    v1 = target.server.compose[-1] != "compose"
    if not since or not v1:
        window = ["--since", since] if since else []
        each = [
            commands.compose(target, "logs", *follow_flags, *window, f"--tail={tail}", slot=slot)
            for _, slot in projects
        ]
        return ([], each) if follow else (each, [])
    backlog = []
    for project, _ in projects:
        listed = runner.run(
            [
                target.server.docker,
                "ps",
                "--all",  # a stopped or restarting container's last lines too
                "--filter",
                f"label=com.docker.compose.project={project}",
                "--format",
                "{{.Names}}",
            ],
            capture=True,
            mutating=False,
        )
        backlog += [
            [target.server.docker, "logs", "--since", since, f"--tail={tail}", name]
            for name in sorted(listed.stdout.split())
        ]
    followers = [commands.compose(target, "logs", "--tail=0", "-f", slot=s) for _, s in projects]
    return backlog, followers if follow else []


def in_current_release(
    target: Target, runner: Runner, compose_args: list[str], slot: bool = False
) -> int:
    """compose in the environment's current release (slot: in the live web slot's project)."""
    current = target.current_release()
    if current is None:
        raise Refusal(f"nothing is deployed to {target.name} yet: ./deploy.sh {target.name}")
    use_image(target, runner, str(current["sha"]))
    return runner.run(
        commands.compose(target, *compose_args, slot=target.web_slot if slot else None),
        check=False,
    ).returncode


def ps(target: Target, runner: Runner) -> int:
    """Which web slot is live, then the containers of its project and of the environment's."""
    live = target.web_slot
    port = f", port {slots.port(target, live)}" if target.server.network == "host" else ""
    print(f"{target.name}: live web slot {live or '(single web, before slots)'}{port}")
    code = in_current_release(target, runner, ["ps"], slot=True) if live else 0
    return in_current_release(target, runner, ["ps"]) or code


def shell(target: Target, runner: Runner) -> int:
    return in_current_release(target, runner, ["exec", "web", "bash"], slot=True)


def down(target: Target, runner: Runner) -> None:
    """Every container of the environment removed: each web slot's project, then its own."""
    current = target.current_release()
    if current is not None:
        use_image(target, runner, str(current["sha"]))
        target = target.at_release(str(current["sha"]))
    else:
        use_image(target, runner, "unused")
    for slot in slots.SLOTS:  # each web slot's project (ops/server/slots.py), when it was used
        if slots.overlay_path(target.server, target.name, slot).is_file():
            runner.run(commands.compose(target, "down", "--timeout", "30", slot=slot))
    runner.run(commands.compose(target, "down", "--timeout", "30"))


def scale(target: Target, runner: Runner, web: int | None, worker: int | None) -> None:
    raise Refusal(f'{target.name} runs on compose: scaling is for runtime = "swarm"')
