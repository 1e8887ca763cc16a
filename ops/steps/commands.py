"""Pure functions that build the commands a deploy runs, as argument lists (no I/O here).

The runner (ops/core/runner.py) executes them; tests check the plans without running anything.
"""

from pathlib import Path

from ops.server import slots
from ops.server.environments import Environment
from ops.server.settings import ServerSettings
from ops.server.target import Target

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
    project (aletheia-ENV-SLOT: web and worker), its overlay last (ops/server/slots.py)."""
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


# asks the web container's own /healthz with the environment's real Host header
HEALTHCHECK = ("python3", "/app/docker/healthcheck.py")


# --- Docker Swarm (runtime = "swarm", ops/runtimes/swarm.py) ---------------------------------------


def swarm_state(settings: ServerSettings) -> Command:
    """`active true` on a manager of a swarm."""
    return [
        settings.docker,
        "info",
        "--format",
        "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}",
    ]


def swarm_nodes(settings: ServerSettings) -> Command:
    return [settings.docker, "node", "ls", "--format", "{{.ID}}"]


def network_exists(settings: ServerSettings, network: str) -> Command:
    return [settings.docker, "network", "inspect", "--format", "{{.Driver}}", network]


def overlay_network_create(settings: ServerSettings, network: str) -> Command:
    """Attachable: nginx-proxy and the one-off containers (migrations) join it too."""
    return [settings.docker, "network", "create", "--driver", "overlay", "--attachable", network]


def secret_exists(settings: ServerSettings, name: str) -> Command:
    return [settings.docker, "secret", "inspect", "--format", "{{.ID}}", name]


def secret_create(settings: ServerSettings, name: str, env: str, source: Path) -> Command:
    return [
        settings.docker,
        "secret",
        "create",
        "--label",
        f"org.aletheia.env={env}",
        name,
        str(source),
    ]


def secrets_of(settings: ServerSettings, env: str) -> Command:
    return [
        settings.docker,
        "secret",
        "ls",
        "--filter",
        f"label=org.aletheia.env={env}",
        "--format",
        "{{.Name}}",
    ]


def secret_remove(settings: ServerSettings, name: str) -> Command:
    return [settings.docker, "secret", "rm", name]


def registry_image(registry: str, sha: str) -> str:
    return f"{registry.rstrip('/')}/{image_name(sha)}"


def image_tag(settings: ServerSettings, source: str, destination: str) -> Command:
    return [settings.docker, "tag", source, destination]


def image_push(settings: ServerSettings, image: str) -> Command:
    return [settings.docker, "push", image]


def stack_deploy(settings: ServerSettings, stack_file: Path, stack: str) -> Command:
    """--with-registry-auth: the other nodes pull with this one's registry login."""
    return [
        settings.docker,
        "stack",
        "deploy",
        "--with-registry-auth",
        "--compose-file",
        str(stack_file),
        stack,
    ]


def stack_remove(settings: ServerSettings, stack: str) -> Command:
    return [settings.docker, "stack", "rm", stack]


def service_inspect(settings: ServerSettings, service: str) -> Command:
    return [settings.docker, "service", "inspect", "--format", "{{json .}}", service]


def service_tasks(settings: ServerSettings, service: str) -> Command:
    """The tasks meant to run: image|current state|error, one a line."""
    return [
        settings.docker,
        "service",
        "ps",
        "--no-trunc",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Image}}|{{.CurrentState}}|{{.Error}}",
        service,
    ]


def running_tasks(settings: ServerSettings, service: str) -> Command:
    return [
        settings.docker,
        "service",
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        "desired-state=running",
        service,
    ]


def service_scale(settings: ServerSettings, counts: dict[str, int]) -> Command:
    return [
        settings.docker,
        "service",
        "scale",
        "--detach",
        *[f"{service}={count}" for service, count in counts.items()],
    ]


def stack_services(settings: ServerSettings, stack: str) -> Command:
    return [settings.docker, "stack", "services", stack]


def stack_tasks(settings: ServerSettings, stack: str) -> Command:
    return [
        settings.docker,
        "stack",
        "ps",
        "--filter",
        "desired-state=running",
        "--format",
        "table {{.Name}}\t{{.Image}}\t{{.Node}}\t{{.CurrentState}}",
        stack,
    ]


def service_logs(
    settings: ServerSettings, service: str, since: str | None, tail: str, follow: bool
) -> Command:
    """A service's logs, or one task's (`service` a task id)."""
    window = ["--since", since] if since else []
    return [
        settings.docker,
        "service",
        "logs",
        "--timestamps",
        f"--tail={tail}",
        *window,
        *(["--follow"] if follow else []),
        service,
    ]


def service_containers(settings: ServerSettings, service: str) -> Command:
    """The running containers of `service` on this node, healthy ones first."""
    return [
        settings.docker,
        "ps",
        "--filter",
        f"label=com.docker.swarm.service.name={service}",
        "--format",
        "{{.ID}} {{.Status}}",
    ]


def container_exec(
    settings: ServerSettings, container: str, *args: str, tty: bool = False
) -> Command:
    return [settings.docker, "exec", "-i", *(["-t"] if tty else []), container, *args]


def containers_of_project(settings: ServerSettings, project: str) -> Command:
    """Every container (running or not) of a Compose project."""
    return [
        settings.docker,
        "ps",
        "-aq",
        "--filter",
        f"label=com.docker.compose.project={project}",
    ]
