"""Which refs an environment deploys (environments.toml `refs`), and the commit a ref names."""

import re

from ops.core.runner import Refusal, Runner
from ops.server.environments import Environment
from ops.server.settings import ServerSettings
from ops.steps import commands

# A release tag: v1.2, v1.2.3, v1.2.3-rc1. Nothing git would read as an expression (v1.0~1,
# v1.0^{/msg}): prod runs exactly the commit a release tag names.
RELEASE_TAG = re.compile(r"^v\d+\.\d+(\.\d+)?(-rc\d+)?$")


def choose(environment: Environment, ref: str | None) -> str:
    """The ref asked for, or the environment's default; prod has none (a tag must be given)."""
    if environment.refs == "tag":
        if not ref:
            raise Refusal(
                f"{environment.name} deploys a tag only: give one, e.g. ./deploy.sh {environment.name} v1.2"
            )
        return ref
    return ref or environment.default_ref


def resolve(environment: Environment, server: ServerSettings, runner: Runner, ref: str) -> str:
    """The commit to deploy. refs = "tag": an existing tag and nothing else."""

    def commit_of(candidate: str) -> str | None:
        result = runner.run(
            commands.git_resolve(server, candidate), check=False, capture=True, mutating=False
        )
        return result.stdout.strip() or None

    if environment.refs == "tag":
        sha = commit_of(f"refs/tags/{ref}") if RELEASE_TAG.match(ref) else None
        if sha is None:
            is_branch = commit_of(f"refs/remotes/origin/{ref}") or commit_of(f"refs/heads/{ref}")
            kind = (
                "a branch"
                if is_branch
                else "unknown"
                if RELEASE_TAG.match(ref)
                else "not a release tag's name"
            )
            raise Refusal(
                f"{environment.name} deploys an existing release tag only (v1.2, v1.2.3, "
                f"v1.2.3-rc1); {ref!r} is {kind}"
            )
        return sha
    for candidate in (f"refs/remotes/origin/{ref}", f"refs/tags/{ref}", f"refs/heads/{ref}", ref):
        sha = commit_of(candidate)
        if sha:
            return sha
    raise Refusal(f"unknown ref {ref!r}: not a branch, tag or commit of {server.checkout}")
