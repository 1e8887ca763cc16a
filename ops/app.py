"""The environment's running app (web, worker, beat): start a release's image, wait until it is
healthy, put the previous release back, stop it. Deploys, rollbacks and restores share these."""

import os
import tempfile
import time
from pathlib import Path

from ops import commands, locks, nginx, slots
from ops.attempt import Attempt
from ops.runner import Runner, StepFailed
from ops.target import Target

APP_SERVICES = ("web", "celery", "celery_beat")


def with_release_files(target: Target, runner: Runner, sha: str) -> Target:
    """The target running compose with release `sha`'s own compose files, extracted once from
    its commit into $ROOT/aletheia/releases/<sha>/ (never from the checkout's working tree)."""
    folder = target.server.releases_dir / sha
    if not folder.is_dir():
        files = commands.release_files(target.environment, target.server)
        with tempfile.TemporaryDirectory(prefix=f"aletheia-release-{sha[:12]}-") as workdir:
            tarball, partial = Path(workdir, "files.tar"), Path(workdir, "files")
            partial.mkdir()
            runner.run(commands.git_archive_files(target.server, sha, tarball, files))
            runner.run(commands.untar(tarball, partial))
            if not runner.dry_run:
                folder.parent.mkdir(parents=True, exist_ok=True)
                partial.rename(folder)
    return target.at_release(sha)


def use_image(target: Target, runner: Runner, sha: str) -> None:
    """Compose commands from now on run `sha`'s image (one-offs included)."""
    runner.env.update(target.compose_env(commands.image_name(sha)))


def wait_healthy(target: Target, runner: Runner) -> None:
    timeout = target.server.health_timeout
    deadline = time.monotonic() + timeout
    while True:
        result = runner.run(commands.web_health(target), check=False, capture=True)
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise StepFailed(
                f"step 'health check' failed: /healthz not 200 within {timeout:.0f}s"
                f" ({(result.stdout or result.stderr).strip()[-200:]})"
            )
        time.sleep(1)


def start_healthy(target: Target, runner: Runner, sha: str) -> None:
    """Start release `sha` again through the switch (a new slot, health, nginx, drain)."""
    switch_to(target, runner, None, sha)


def run_manage(target: Target, runner: Runner, *args: str) -> None:
    """manage.py in a one-off container of the image in use."""
    runner.run(commands.manage(target, *args), capture=True)


def compose_command(target: Target, *args: str) -> list[str]:
    return commands.compose(target, *args)


def stop(target: Target, runner: Runner) -> None:
    """Stop the whole app (a restore replaces the schema): the live slot, beat, and the legacy
    single web and worker if they still exist."""
    if target.web_slot:
        runner.run(commands.stop(target, target.web_slot, *slots.SLOT_SERVICES))
    runner.run(commands.stop(target, None, *APP_SERVICES))


def drain_seconds() -> int:
    """How long the old slot's gunicorn may take to finish in-flight requests after SIGTERM
    (ALETHEIA_DRAIN_SECONDS, 30 like kamal-proxy's default; its --graceful-timeout is 30)."""
    return int(os.environ.get("ALETHEIA_DRAIN_SECONDS", "30"))


def settle_seconds() -> float:
    """`nginx -s reload` returns before the old nginx workers stop taking requests: this long
    between the reload and the old slot's SIGTERM (ALETHEIA_SETTLE_SECONDS)."""
    return float(os.environ.get("ALETHEIA_SETTLE_SECONDS", "2"))


STRATEGIES = ("switch", "recreate")


def default_strategy() -> str:
    strategy = os.environ.get("ALETHEIA_DEPLOY_STRATEGY", "switch")
    return strategy if strategy in STRATEGIES else "switch"


def _set_nginx(target: Target, runner: Runner) -> None:
    with locks.server_wide(target.server.state_dir, "nginx config", runner.say, runner.dry_run):
        nginx.activate(target, runner)


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
    runner.say(f"    web slot: {old or 'single web'} is live, {new} gets {sha[:12]} ({strategy})")
    fresh = target.with_slot(new)
    before = old or "the single web"
    if not runner.dry_run:
        slots.write_overlay(fresh, new)
    previous = target.current_release()
    if strategy == "recreate":
        if previous:
            previous_sha = str(previous["sha"])
            recover(
                f"putting back the previous release {previous.get('ref')} ({previous_sha[:12]})",
                lambda: _recreate(target.at_release(previous_sha), runner, new, previous_sha),
            )
        with runner.step("recreate containers"):
            _recreate(fresh, runner, new, sha)
        with runner.step("health check"):
            if not runner.dry_run:
                wait_healthy(fresh, runner)
        with runner.step("nginx"):
            _set_nginx(fresh, runner)
        if not runner.dry_run:
            slots.record(target.server, target.name, new)
        if old is None:
            with runner.step("remove the single web"):
                runner.run(commands.rm(target, None, "web", "celery"))
        recover("", None)
        return

    def remove_new() -> None:
        runner.run(commands.rm(fresh, new, *slots.SLOT_SERVICES), check=False)

    recover(f"removing the new slot {new} ({before} keeps serving)", remove_new)
    with runner.step(f"start web ({new})"):
        runner.run(commands.rm(fresh, new, *slots.SLOT_SERVICES), capture=True)  # leftovers
        runner.run(commands.up_slot(fresh, new, "web"), capture=True)
    with runner.step("health check"):
        if not runner.dry_run:
            wait_healthy(fresh, runner)
    with runner.step(f"nginx -> {new}"):
        _set_nginx(fresh, runner)
        if not runner.dry_run:
            slots.record(target.server, target.name, new)

    def put_back() -> None:
        _set_nginx(target, runner)
        if old:
            slots.record(target.server, target.name, old)
        else:
            slots.state_file(target.server, target.name).unlink(missing_ok=True)
        runner.run(commands.rm(fresh, new, *slots.SLOT_SERVICES), check=False)

    recover(f"nginx back to {before}, slot {new} removed", put_back)
    with runner.step(f"worker ({new})"):  # the new worker runs before the old one is stopped
        runner.run(commands.up_slot(fresh, new, "celery"), capture=True)
    recover("", None)  # from here on the new release serves; what follows only stops the old
    with runner.step(f"drain {before}"):
        if not runner.dry_run:
            time.sleep(settle_seconds())
        runner.run(commands.stop(target, old, "web", timeout=drain_seconds()), capture=True)
        runner.run(commands.stop(target, old, "celery"), capture=True)  # warm shutdown
        runner.run(commands.rm(target, old, "web", "celery"), capture=True)
    with runner.step("beat"):
        runner.run(commands.up_beat(fresh), capture=True)


def _recreate(target: Target, runner: Runner, slot: str, sha: str) -> None:
    use_image(target, runner, sha)
    runner.run(commands.up_slot(target, slot, *slots.SLOT_SERVICES), capture=True)
    runner.run(commands.up_beat(target), capture=True)
