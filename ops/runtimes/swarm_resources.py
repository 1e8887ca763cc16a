"""What a swarm stack needs from the Docker engine before it runs: its release image where every
node can pull it, the overlay network it meets nginx-proxy on, and the env file as a secret.
"""

from ops.core.runner import Runner, StepFailed
from ops.runtimes import stack
from ops.server.target import Target
from ops.steps import commands


def node_count(target: Target, runner: Runner) -> int:
    listed = runner.run(
        commands.swarm_nodes(target.server), check=False, capture=True, mutating=False
    )
    return max(1, len(listed.stdout.split()))


def release_image(target: Target, runner: Runner, sha: str) -> str:
    """The image the stack runs: the local one on a single node; beyond it, pushed to the
    registry (every node pulls it from there)."""
    local = commands.image_name(sha)
    if not target.server.registry or node_count(target, runner) == 1:
        return local
    pushed = commands.registry_image(target.server.registry, sha)
    runner.run(commands.image_tag(target.server, local, pushed))
    runner.run(commands.image_push(target.server, pushed), capture=True)
    return pushed


def ensure_network(target: Target, runner: Runner) -> None:
    network = target.server.swarm_network
    found = runner.run(
        commands.network_exists(target.server, network), check=False, capture=True, mutating=False
    )
    if found.returncode != 0:
        runner.run(commands.overlay_network_create(target.server, network), capture=True)
    elif found.stdout.strip() != "overlay":
        raise StepFailed(
            f"network {network} is a {found.stdout.strip()} network: a swarm stack needs an "
            "overlay network (ALETHEIA_SWARM_NETWORK)"
        )


def ensure_secret(target: Target, runner: Runner) -> str:
    """The env file as a Docker secret (created once per content), its name."""
    path = target.env_file.path
    name = stack.secret_name(target.environment, path.read_text() if path.is_file() else "")
    found = runner.run(
        commands.secret_exists(target.server, name), check=False, capture=True, mutating=False
    )
    if found.returncode != 0:
        runner.run(commands.secret_create(target.server, name, target.name, path), capture=True)
    return name


def prune_secrets(target: Target, runner: Runner, keep: str) -> None:
    """Earlier env files' secrets; one a service still uses is refused by Docker and kept."""
    listed = runner.run(
        commands.secrets_of(target.server, target.name), check=False, capture=True, mutating=False
    )
    for name in listed.stdout.split():
        if name != keep:
            runner.run(commands.secret_remove(target.server, name), check=False, capture=True)
