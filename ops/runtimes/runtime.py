"""What every runtime does, and which one an environment runs on: the only place that asks.

A runtime is a module with these functions (`app` runs compose slots, `swarm` a stack). The
flows (deploy, rollback, restart, restore, rotation) and the command handlers call
`of(target).…` and read the same for both; a third runtime is one new module and one line in
RUNTIMES (and its name allowed in the matrix, ops/server/environments.py).
"""

from typing import Protocol

from ops.core.runner import Runner
from ops.runtimes import app, swarm
from ops.server.target import Target
from ops.steps import commands
from ops.steps.attempt import Attempt


class Runtime(Protocol):
    def preflight(self, target: Target, runner: Runner) -> None:
        """Refuse before anything changes (e.g. the engine is not a swarm manager)."""

    def switch_to(
        self, target: Target, runner: Runner, this: Attempt | None, sha: str, strategy: str = ...
    ) -> None:
        """Run release `sha`: start it, wait until healthy, point nginx at it, retire the old."""

    def stop(self, target: Target, runner: Runner) -> None:
        """Stop the whole app (a restore replaces the schema); the next switch starts it."""

    def web_exec(self, target: Target, runner: Runner, *args: str) -> list[str]:
        """The command that runs `args` in a live web container."""

    def logs_commands(
        self, target: Target, runner: Runner, since: str | None, tail: str, follow: bool
    ) -> tuple[list[list[str]], list[list[str]]]:
        """`make logs`: commands to run one after the other, then those to run together."""

    def ps(self, target: Target, runner: Runner) -> int: ...

    def shell(self, target: Target, runner: Runner) -> int: ...

    def down(self, target: Target, runner: Runner) -> None: ...

    def scale(self, target: Target, runner: Runner, web: int | None, worker: int | None) -> None:
        """New replica counts kept for the next deploys (refused where it means nothing)."""


RUNTIMES: dict[str, Runtime] = {"compose": app, "swarm": swarm}


def of(target: Target) -> Runtime:
    return RUNTIMES[target.environment.runtime]


def start_healthy(target: Target, runner: Runner, sha: str, this: Attempt | None = None) -> None:
    """Start release `sha` again through the switch; within an attempt, a failure or an
    interruption is undone like a deploy's."""
    of(target).switch_to(target, runner, this, sha)


def web_health(target: Target, runner: Runner) -> list[str]:
    """The one health command: /healthz asked inside a live web container."""
    return of(target).web_exec(target, runner, *commands.HEALTHCHECK)
