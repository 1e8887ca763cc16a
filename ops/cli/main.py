"""python3 -m ops COMMAND — Aletheia's server tool (standard library only).

Parses (ops/cli/parser.py), resolves the environment a command names once into a Target
(ops/server/target.py), dispatches to its handler (environment_commands.py, server_commands.py);
refusals exit 2, failures 1, an interruption 130.
"""

import sys

from ops.cli.environment_commands import ENVIRONMENT_COMMANDS
from ops.cli.parser import parser
from ops.cli.server_commands import SERVER_COMMANDS, cmd_doctor, cmd_generate
from ops.core import locks
from ops.core.runner import Refusal, Runner, StepFailed
from ops.server import target
from ops.server.settings import ServerSettings
from ops.steps.attempt import Interrupted


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in ("generate", "compose-overlays"):
        return cmd_generate(args)
    server = ServerSettings.from_environment()
    runner = Runner(dry_run=args.dry_run)
    try:
        if args.command == "doctor":
            return cmd_doctor(args, server)
        if args.command in SERVER_COMMANDS:
            return SERVER_COMMANDS[args.command](args, server, runner)
        handler, needs_env_file, _ = ENVIRONMENT_COMMANDS[args.command]
        env = target.resolve(args.env, server)
        if needs_env_file:
            env.require_valid_env_file()
        for warning in env.env_file.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return handler(args, env, runner)
    except (Refusal, locks.LockHeld) as exc:
        print(f"refused: {exc} (nothing changed)", file=sys.stderr)
        return 2
    except StepFailed as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Interrupted):
        return 130


if __name__ == "__main__":
    sys.exit(main())
