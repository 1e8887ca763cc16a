"""The only thing the dev auto-deploy's SSH key can do: deploy `develop` (or one of its
commits) to dev. authorized_keys forces this entry point (docs/deployment/security.md), whatever command the client asked for (SSH_ORIGINAL_COMMAND).

Accepted: `deploy` (develop's tip), `deploy develop`, `deploy <40-hex sha>` of a commit that
develop contains. Anything else is refused before any lock, fetch or build.
"""

import os
import re
import sys

from ops.core.runner import Refusal, Runner
from ops.server import target
from ops.server.settings import ServerSettings
from ops.steps import commands

ENVIRONMENT, BRANCH = "dev", "develop"
SHA = re.compile(r"^[0-9a-f]{40}$")


def requested_ref(original_command: str) -> str:
    """The ref the client asked to deploy; a Refusal for anything but `deploy [develop|SHA]`."""
    words = original_command.split()
    if not words or words[0] != "deploy" or len(words) > 2:
        raise Refusal(f"this key only deploys {BRANCH} to {ENVIRONMENT}: `deploy [{BRANCH}|SHA]`")
    ref = words[1] if len(words) == 2 else BRANCH
    if ref != BRANCH and not SHA.match(ref):
        raise Refusal(f"{ref!r} is neither {BRANCH} nor a full commit sha")
    return ref


def check_on_develop(server: ServerSettings, runner: Runner, ref: str) -> None:
    """A sha must be a commit develop already contains (after fetching)."""
    if ref == BRANCH:
        return
    runner.run(commands.git_fetch(server))
    contained = runner.run(
        [
            "git",
            "-C",
            str(server.checkout),
            "merge-base",
            "--is-ancestor",
            ref,
            f"refs/remotes/origin/{BRANCH}",
        ],
        check=False,
        capture=True,
        mutating=False,
    )
    if contained.returncode != 0:
        raise Refusal(f"{ref} is not a commit of {BRANCH}")


def main(argv: list[str] | None = None) -> int:
    from ops.cli.main import main as ops_main

    argv = sys.argv[1:] if argv is None else argv
    original = " ".join(argv) or os.environ.get("SSH_ORIGINAL_COMMAND", "")
    try:
        ref = requested_ref(original)
        server = ServerSettings.from_environment()
        target.resolve(ENVIRONMENT, server)  # the environment exists in the matrix
        check_on_develop(server, Runner(), ref)
    except Refusal as exc:
        print(f"refused: {exc} (nothing changed)", file=sys.stderr)
        return 2
    return ops_main(["deploy", ENVIRONMENT, ref])


if __name__ == "__main__":
    sys.exit(main())
