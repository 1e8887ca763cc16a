"""Pure functions that build the commands a deploy runs, as argument lists (no I/O here).

The runner (ops/runner.py) executes them; tests check the plans without running anything.
"""

from pathlib import Path

from ops import slots
from ops.environments import Environment
from ops.settings import ServerSettings
from ops.target import Target

Command = list[str]
OPS_LABEL = "org.aletheia.built-by=ops"  # on every image ops builds: what pruning may remove


def image_name(sha: str) -> str:
    return f"aletheia:{sha}"


def project_name(environment: Environment) -> str:
    return f"aletheia-{environment.name}"


def git_fetch(settings: ServerSettings) -> Command:
    return ["git", "-C", str(settings.checkout), "fetch", "--all", "--tags", "--prune", "--force"]


def git_resolve(settings: ServerSettings, ref: str) -> Command:
    return [
        "git",
        "-C",
        str(settings.checkout),
        "rev-parse",
        "--verify",
        "--quiet",
        f"{ref}^{{commit}}",
    ]


def git_archive(settings: ServerSettings, sha: str, tarball: Path) -> Command:
    return ["git", "-C", str(settings.checkout), "archive", "--format=tar", "-o", str(tarball), sha]


def untar(tarball: Path, destination: Path) -> Command:
    return ["tar", "-xf", str(tarball), "-C", str(destination)]


def image_exists(settings: ServerSettings, sha: str) -> Command:
    return [settings.docker, "image", "inspect", "--format", "{{.Id}}", image_name(sha)]


def images_built_by_ops(settings: ServerSettings) -> Command:
    return [
        settings.docker,
        "image",
        "ls",
        "--filter",
        f"label={OPS_LABEL}",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]


def image_remove(settings: ServerSettings, image: str) -> Command:
    return [settings.docker, "image", "rm", image]


def image_build(settings: ServerSettings, sha: str, context: Path) -> Command:
    command = [
        settings.docker,
        "build",
        "-f",
        str(context / "docker" / "Dockerfile"),
        "--build-arg",
        f"GIT_SHA={sha}",
        "--label",
        OPS_LABEL,
        "-t",
        image_name(sha),
    ]
    if settings.ca_bundle:
        command += ["--secret", f"id=ca_bundle,src={settings.ca_bundle}"]
    if settings.build_network:
        command += ["--network", settings.build_network]
    return [*command, str(context)]


def release_files(environment: Environment, settings: ServerSettings) -> list[str]:
    """The compose files a release of `environment` runs with (taken from its own commit)."""
    return [*environment.compose_files, f"docker-compose.{settings.network}-network.yml"]


def git_archive_files(
    settings: ServerSettings, sha: str, tarball: Path, files: list[str]
) -> Command:
    return [*git_archive(settings, sha, tarball), "--", *files]


def compose(target: Target, *args: str, slot: str | None = None) -> Command:
    """compose in the environment's project (beat, one-offs), or with `slot` in that web slot's
    project (aletheia-ENV-SLOT: web and worker), its overlay last (ops/slots.py)."""
    environment, settings = target.environment, target.server
    files = [target.compose_source / name for name in release_files(environment, settings)]
    project = project_name(environment)
    if slot:
        files.append(slots.overlay_path(settings, environment.name, slot))
        project = f"{project}-{slot}"
    return [
        *settings.compose,
        "-p",
        project,
        *[arg for path in files for arg in ("-f", str(path))],
        *args,
    ]


def manage(target: Target, *args: str) -> Command:
    """A one-off container of the environment's image (the new release during a deploy)."""
    return compose(target, "run", "--rm", "--no-deps", "-T", "manage", "manage", *args)


def up(target: Target) -> Command:
    """The in-place way (the legacy single project): every service recreated where it runs."""
    return compose(target, "up", "-d", "--remove-orphans")


def up_slot(target: Target, slot: str, *services: str) -> Command:
    return compose(target, "up", "-d", "--no-deps", *services, slot=slot)


def up_beat(target: Target) -> Command:
    """Beat in the environment's project: compose stops the old one before starting the new
    one (never two at once), and leaves it running when nothing changed."""
    return compose(target, "up", "-d", "--no-deps", *slots.MAIN_SERVICES)


def stop(target: Target, slot: str | None, *services: str, timeout: int | None = None) -> Command:
    """SIGTERM, then up to `timeout` seconds (gunicorn drains, celery shuts down warm; None:
    each service's stop_grace_period), for `services` of a slot (None: the env's project)."""
    wait = ["-t", str(timeout)] if timeout is not None else []
    return compose(target, "stop", *wait, *services, slot=slot)


def rm(target: Target, slot: str | None, *services: str) -> Command:
    """Remove the (stopped) containers of `services`; stops any still running first."""
    return compose(target, "rm", "-f", "-s", *services, slot=slot)


def web_exec(target: Target, *args: str) -> Command:
    """A command in the live web container (the legacy single web before the first switch)."""
    return compose(target, "exec", "-T", "web", *args, slot=target.web_slot)


def web_health(target: Target) -> Command:
    """Ask the live web container's /healthz with the environment's real Host header."""
    return web_exec(target, "python3", "/app/docker/healthcheck.py")
