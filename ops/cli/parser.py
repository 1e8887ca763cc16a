"""The command line's grammar: every command, its arguments and its help."""

import argparse

from ops.cli.environment_commands import ENVIRONMENT_COMMANDS
from ops.runtimes import app
from ops.server.settings import ServerSettings

DESCRIPTION = """python3 -m ops COMMAND — Aletheia's server tool (standard library only).

Every command that changes something takes --dry-run, which prints the exact commands instead."""


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="python3 -m ops", description=DESCRIPTION)
    sub = main_parser.add_subparsers(dest="command", required=True)
    for name, (_, _, text) in ENVIRONMENT_COMMANDS.items():
        sub.add_parser(name, help=text).add_argument("env")
    sub.choices["deploy"].add_argument("ref", nargs="?")
    sub.choices["deploy"].add_argument(
        "--skip-backup",
        action="store_true",
        help="prod: do not take the pre-migration backup (recorded in the release log)",
    )
    sub.choices["deploy"].add_argument(
        "--maintenance",
        action="store_true",
        help="deploy behind the 503 placeholder, the app stopped while it migrates (for "
        "backward-incompatible migrations; recorded in the release log)",
    )
    sub.choices["rollback"].add_argument(
        "to", nargs="?", help="a sha (prefix) from the release log"
    )
    for name in ("deploy", "rollback"):
        sub.choices[name].add_argument(
            "--strategy",
            choices=app.STRATEGIES,
            default=app.default_strategy(ServerSettings.from_environment()),
            help="switch (default): a new slot beside the live one, health, nginx, drain; "
            "recreate: in place (requests fail meanwhile)",
        )
    p = sub.choices["db-restore"]
    p.add_argument("file", help="a .dump path, or its name in the backups directory")
    p.add_argument("--confirm", metavar="ENV", help="required for prod: --confirm prod")
    p.add_argument(
        "--from-env",
        metavar="ENV",
        help="the backup's environment, required when it is not ENV (recorded)",
    )
    sub.add_parser(
        "doctor", help="check an environment's part of the server (all without ENV): pass/fail"
    ).add_argument("env", nargs="?")
    sub.add_parser("prune-images", help="remove images no environment keeps")
    sub.choices["logs"].add_argument(
        "--since", help="from this time on: 2026-11-29T10:00, 10m, 2h (docker logs --since)"
    )
    sub.choices["logs"].add_argument(
        "--tail", default="100", help="lines of each container before (default 100; all)"
    )
    sub.choices["logs"].add_argument(
        "--no-follow", action="store_true", help="print and stop instead of following"
    )
    sub.choices["down"].add_argument("--confirm", metavar="ENV", help="required for prod")
    sub.choices["scale"].add_argument("--web", type=int, help="web replicas (2 or more)")
    sub.choices["scale"].add_argument("--worker", type=int, help="worker replicas (1 or more)")
    p = sub.add_parser(
        "server-init",
        help="first-time setup of ENV (all without ENV): folders, server.env, env files, "
        "database roles and Redis users (--apply), what is left to do by hand",
    )
    p.add_argument("env", nargs="?")
    p.add_argument(
        "--apply", action="store_true", help="create the roles, databases and Redis users"
    )
    p = sub.add_parser(
        "isolation",
        help="print the PostgreSQL roles/databases and Redis ACL users of ENV (all without ENV)",
    )
    p.add_argument("env", nargs="?")
    p.add_argument("--apply", action="store_true", help="run the SQL and load the ACL file")
    for p in sub.choices.values():
        p.add_argument("--dry-run", action="store_true", help="print the commands, change nothing")
    for name in ("generate", "compose-overlays"):  # compose-overlays: its former name
        sub.add_parser(
            name,
            help="write the compose files and the docs' environments table from environments.toml",
        ).add_argument("--check", action="store_true", help="only say which files drifted")
    return main_parser
