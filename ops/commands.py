"""Pure functions that build the commands a deploy runs, as argument lists (no I/O here).

The runner (ops/runner.py) executes them; tests check the plans without running anything.
"""

from pathlib import Path

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


def compose(target: Target, *args: str) -> Command:
    environment, settings = target.environment, target.server
    files = release_files(environment, settings)
    return [
        *settings.compose,
        "-p",
        project_name(environment),
        *[arg for name in files for arg in ("-f", str(target.compose_source / name))],
        *args,
    ]


def manage(target: Target, *args: str) -> Command:
    """A one-off container of the environment's image (the new release during a deploy)."""
    return compose(target, "run", "--rm", "--no-deps", "-T", "manage", "manage", *args)


def up(target: Target) -> Command:
    return compose(target, "up", "-d", "--remove-orphans")


def web_health(target: Target) -> Command:
    """Ask the running web container's /healthz with the environment's real Host header."""
    return compose(target, "exec", "-T", "web", "python3", "/app/docker/healthcheck.py")
