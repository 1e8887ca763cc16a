"""The server target of a command: one environment's matrix row, its env file, and the server
settings, resolved once (ops/cli/main.py) and handed to every command."""

from dataclasses import dataclass, replace
from pathlib import Path

from ops.core import releases
from ops.core.runner import Refusal
from ops.server import compose, envfile, environments, slots
from ops.server.envfile import EnvFile
from ops.server.environments import REPO_ROOT, Environment
from ops.server.settings import ServerSettings


@dataclass(frozen=True)
class Target:
    environment: Environment
    server: ServerSettings
    env_file: EnvFile
    compose_source: Path = REPO_ROOT  # where the compose files come from: a release's own
    web_slot: str | None = (
        None  # the live web slot (ops/server/slots.py); None: the legacy single web
    )

    def at_release(self, sha: str) -> "Target":
        """The same target, running compose with the files of release `sha` when they have
        been extracted (ops/runtimes/app.py), else this checkout's."""
        folder = self.server.releases_dir / sha
        return replace(self, compose_source=folder if folder.is_dir() else REPO_ROOT)

    def with_slot(self, slot: str | None) -> "Target":
        return replace(self, web_slot=slot)

    @property
    def name(self) -> str:
        return self.environment.name

    @property
    def upstream_slot(self) -> str | None:
        """Where nginx sends the environment's requests: its web slot, or on swarm the stack's
        web service (one alias, no slots)."""
        return slots.SWARM_SLOT if self.environment.on_swarm else self.web_slot

    @property
    def web_port(self) -> int:
        return self.env_file.web_port

    def require_valid_env_file(self) -> None:
        if self.env_file.problems:
            raise Refusal(self.env_file.problems[0])

    def compose_env(self, image: str) -> dict[str, str]:
        """What the compose files interpolate (the image to run, where the env file is, the
        directory the static volume is bound to under host networking)."""
        values = {
            "ALETHEIA_IMAGE": image,
            "ALETHEIA_SERVER_ROOT": str(self.server.root),
            "ALETHEIA_ENV_NAME": self.name,
            "ALETHEIA_STATIC_HOST_DIR": self.server.static_host_dir(self.name),
        }
        if self.environment.on_swarm:  # one-offs (migrations…) join the stack's overlay network
            values["ALETHEIA_DOCKER_NETWORK"] = self.server.swarm_network
        return values

    def current_release(self) -> dict[str, object] | None:
        return releases.current(self.server.state_dir, self.name)


def server_environment(name: str) -> Environment:
    servers = environments.server_environments()
    if name not in servers:
        raise Refusal(f"unknown environment {name!r}: one of {', '.join(servers)}")
    return servers[name]


def port_clashes(name: str, server: ServerSettings, ports: tuple[int, int]) -> list[str]:
    """Host networking: the other environments whose web slots listen on one of `ports` (this
    environment's blue and green)."""
    if server.network != "host":
        return []
    clashes = []
    for other_name, other in environments.server_environments().items():
        path = server.root / other.env_file
        if other_name == name or not path.is_file():
            continue
        theirs = envfile.read(path, other, frozenset()).web_ports
        if set(theirs) & set(ports):
            clashes.append(other_name)
    return clashes


def port_problems(name: str, server: ServerSettings, env_file: envfile.EnvFile) -> list[str]:
    """Host networking: each web slot of each environment needs a port of its own."""
    if server.network != "host":
        return []
    try:
        blue, green = env_file.web_ports
    except ValueError:
        return [f"env file {env_file.path}: PORT and PORT_GREEN must be port numbers"]
    if blue == green:
        return [
            f"env file {env_file.path}: PORT_GREEN {green} is PORT: the two web slots need"
            " two ports (a health check would reach the live slot, not the new one)"
        ]
    clashes = port_clashes(name, server, (blue, green))
    if clashes:
        return [
            f"env file {env_file.path}: PORT {blue} or PORT_GREEN {green} is also used by"
            f" {', '.join(clashes)} — under host networking each web slot needs its own port"
        ]
    return []


def resolve(name: str, server: ServerSettings) -> Target:
    environment = server_environment(name)
    overlay_keys = frozenset(compose.app_environment(environment))
    env_file = envfile.read(server.root / environment.env_file, environment, overlay_keys)
    if env_file.values and not env_file.problems:
        problems = port_problems(name, server, env_file)
        if problems:
            env_file = replace(env_file, problems=(*env_file.problems, *problems))
    found = Target(environment, server, env_file, web_slot=slots.live(server, name))
    current = found.current_release()
    if environment.on_swarm:  # no slots: nginx reaches a swarm environment's web by one alias
        found = found.with_slot(None)
    return found.at_release(str(current["sha"])) if current else found
