"""The environment's running app (web, worker, beat): start a release's image, wait until it is
healthy, put the previous release back, stop it. Deploys, rollbacks and restores share these."""

import tempfile
import time
from pathlib import Path

from ops import commands, locks, nginx
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


def start(target: Target, runner: Runner, sha: str) -> None:
    use_image(target, runner, sha)
    runner.run(commands.up(target), capture=True)


def start_healthy(target: Target, runner: Runner, sha: str) -> None:
    start(target, runner, sha)
    if not runner.dry_run:
        wait_healthy(target, runner)


def run_manage(target: Target, runner: Runner, *args: str) -> None:
    """manage.py in a one-off container of the image in use."""
    runner.run(commands.manage(target, *args), capture=True)


def compose_command(target: Target, *args: str) -> list[str]:
    return commands.compose(target, *args)


def stop(target: Target, runner: Runner) -> None:
    runner.run(commands.compose(target, "stop", *APP_SERVICES))


def switch_to(target: Target, runner: Runner, this: Attempt, sha: str) -> None:
    """Run `sha`'s image: start it, wait until healthy, then nginx. From the start on, a
    failure or an interruption puts the previous release back. Deploys and rollbacks share it."""
    previous = target.current_release()
    if previous:
        previous_sha = str(previous["sha"])
        this.recover_with(
            f"putting back the previous release {previous.get('ref')} ({previous_sha[:12]})",
            lambda: start(target.at_release(previous_sha), runner, previous_sha),
        )
    with runner.step("start containers"):
        start(target, runner, sha)
    with runner.step("health check"):
        if not runner.dry_run:
            wait_healthy(target, runner)
    with (
        runner.step("nginx"),
        locks.server_wide(target.server.state_dir, "nginx config", runner.say, runner.dry_run),
    ):
        nginx.activate(target, runner)
    this.recover_with("", None)  # the new release is live
