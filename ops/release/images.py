"""Release images: built once per commit (`ensure_built`), and pruned: each environment keeps
the images of its last N successful releases.

Images are shared by sha across environments (prod runs the tag staging validated), so what is
kept is the union of every environment's keep list: pruning for one never removes an image
another still counts on. Only images ops built (commands.OPS_LABEL) are candidates.
"""

import tempfile
from pathlib import Path

from ops.core import releases
from ops.core.runner import Runner, StepFailed
from ops.server import environments
from ops.server.settings import ServerSettings
from ops.steps import commands


def ensure_built(server: ServerSettings, runner: Runner, sha: str) -> None:
    """aletheia:<sha>, built from the commit itself (git archive), never from the checkout's
    working tree; reused when it exists."""
    exists = runner.run(
        commands.image_exists(server, sha), check=False, capture=True, mutating=False
    )
    if exists.returncode == 0:
        runner.say(f"    {commands.image_name(sha)} exists: reused, no rebuild")
        return
    with tempfile.TemporaryDirectory(prefix=f"aletheia-build-{sha[:12]}-") as workdir:
        tarball, context = Path(workdir, "source.tar"), Path(workdir, "source")
        context.mkdir()
        runner.run(commands.git_archive(server, sha, tarball))
        runner.run(commands.untar(tarball, context))
        runner.env["DOCKER_BUILDKIT"] = "1"
        runner.run(commands.image_build(server, sha, context))


def kept_shas(logs: dict[str, list[dict[str, object]]], keep: int) -> set[str]:
    """The shas of each environment's last `keep` distinct successful releases, all together."""
    kept: set[str] = set()
    for entries in logs.values():
        recent: list[str] = []
        for entry in reversed(entries):
            sha = str(entry.get("sha", ""))
            if entry.get("result") == "succeeded" and sha and sha not in recent:
                recent.append(sha)
        kept.update(recent[: max(keep, 1)])
    return kept


def recorded_shas(logs: dict[str, list[dict[str, object]]]) -> set[str]:
    """Every sha a release log of this server names, whatever the result."""
    return {str(entry["sha"]) for entries in logs.values() for entry in entries if entry.get("sha")}


def to_prune(images: list[str], kept: set[str], recorded: set[str]) -> list[str]:
    """The images of this server's releases that no environment keeps. An image no release
    log of this server recorded (another server root on the same docker, a build by hand) is
    not this server's to remove."""
    return [
        image
        for image in images
        if image.partition(":")[2] in recorded and image.partition(":")[2] not in kept
    ]


def busy_environments(settings: ServerSettings, besides: str = "") -> list[str]:
    """Environments being deployed right now: their new image is not in their log yet."""
    return [
        name
        for name in environments.server_environments()
        if name != besides and (settings.state_dir / f"deploy-{name}.lock").exists()
    ]


def prune(
    settings: ServerSettings, runner: Runner, besides: str = "", also_keep: str = ""
) -> list[str]:
    """Remove the images no environment keeps; returns what was removed. `besides` is the
    environment whose deploy is calling (its own lock is expected), `also_keep` the sha it
    has just switched to (logged only when it finishes)."""
    busy = busy_environments(settings, besides)
    if busy:
        runner.say(
            f"    skipped: {', '.join(busy)} being deployed (its new image is not logged yet)"
        )
        return []
    logs = {
        name: releases.read(settings.state_dir, name) for name in environments.server_environments()
    }
    kept = kept_shas(logs, settings.images_keep) | ({also_keep} if also_keep else set())
    listed = runner.run(commands.images_built_by_ops(settings), capture=True, mutating=False)
    images = sorted(
        {
            line.strip()
            for line in listed.stdout.splitlines()
            if ":" in line and "<none>" not in line
        }
    )  # untagged layers go with docker's own `image prune`
    recorded = recorded_shas(logs)
    unrecorded = [image for image in images if image.partition(":")[2] not in recorded]
    removed = []
    for image in to_prune(images, kept, recorded):
        result = runner.run(commands.image_remove(settings, image), check=False, capture=True)
        if result.returncode == 0:
            removed.append(image)
        else:
            runner.say(f"    kept {image}: {(result.stderr or '').strip()[-160:]}")
    verb = "would be removed" if runner.dry_run else "removed"
    runner.say(
        f"    {len(removed)} image(s) {verb}, {len(kept)} release image(s) kept "
        f"(last {settings.images_keep} releases of each environment)"
        + (
            f", {len(unrecorded)} left alone (in no release log of this server)"
            if unrecorded
            else ""
        )
    )
    return removed


def prune_after_deploy(server: ServerSettings, runner: Runner, name: str, sha: str) -> None:
    """The release is live: a failed cleanup is only a warning."""
    try:
        prune(server, runner, besides=name, also_keep=sha)
    except StepFailed as exc:
        runner.say(f"    warning: {exc}")
