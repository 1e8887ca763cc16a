"""python3 -m ops COMMAND — Aletheia's server tool (standard library only).

Every command that changes something takes --dry-run, which prints the exact commands instead.
"""

import argparse
import os
import sys
import time

from ops import (
    backups,
    commands,
    compose,
    deploy,
    doctor,
    environments,
    images,
    locks,
    nginx,
    releases,
    restore,
)
from ops.runner import Refusal, Runner, StepFailed
from ops.settings import ServerSettings


def compose_overlays(check: bool) -> int:
    stale = []
    for environment in environments.server_environments().values():
        path, text = compose.overlay_path(environment), compose.render_overlay(environment)
        if path.exists() and path.read_text() == text:
            continue
        if check:
            stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote {path.name}")
    if stale:
        print(
            f"out of date with environments.toml: {', '.join(stale)} (run python3 -m ops compose-overlays)"
        )
        return 1
    return 0


def current_image(name: str, settings: ServerSettings) -> str:
    release = releases.current(settings.state_dir, name)
    if release is None:
        raise deploy.Refused(f"nothing is deployed to {name} yet: ./deploy.sh {name}")
    return commands.image_name(str(release["sha"]))


def in_environment(name: str, settings: ServerSettings, runner: Runner, *compose_args: str) -> int:
    environment = deploy.server_environment(name)
    runner.env.update(deploy.compose_env(environment, settings, current_image(name, settings)))
    return runner.run(
        commands.compose(environment, settings, *compose_args), check=False
    ).returncode


Args = argparse.Namespace


def report(args: Args, result: deploy.DeployResult, runner: Runner, started: float) -> int:
    """How a deploy, a rollback or a restore ended: 0 done, 2 refused, 1 failed."""
    elapsed = time.monotonic() - started
    if result.ok:
        print(f"{args.command}: {result.message} in {elapsed:.1f}s ({runner.summary()})")
        return 0
    if result.refused:
        print(f"refused: {result.message} (nothing changed)", file=sys.stderr)
        return 2
    print(
        f"{args.command} of {args.env} FAILED after {elapsed:.1f}s: {result.message}",
        file=sys.stderr,
    )
    return 1


def cmd_deploy(args: Args, settings: ServerSettings, runner: Runner) -> int:
    started = time.monotonic()
    result = deploy.deploy(args.env, args.ref, settings, runner, args.skip_backup)
    return report(args, result, runner, started)


def cmd_rollback(args: Args, settings: ServerSettings, runner: Runner) -> int:
    started = time.monotonic()
    return report(args, deploy.rollback(args.env, args.to, settings, runner), runner, started)


def cmd_db_restore(args: Args, settings: ServerSettings, runner: Runner) -> int:
    started = time.monotonic()
    result = restore.restore(args.env, args.file, settings, runner, args.confirm, args.from_env)
    return report(args, result, runner, started)


def cmd_db_backup(args: Args, settings: ServerSettings, runner: Runner) -> int:
    started = time.monotonic()
    environment = deploy.server_environment(args.env)
    values = deploy.check_env_file(environment, settings)
    with runner.step("backup"):
        dump = backups.backup(environment, settings, runner, values, reason="by hand")
    print(f"db-backup: {dump} in {time.monotonic() - started:.1f}s")
    return 0


def cmd_db_backups(args: Args, settings: ServerSettings, runner: Runner) -> int:
    deploy.server_environment(args.env)
    for dump, manifest in backups.list_backups(settings, args.env):
        print(
            f"{dump.name}  {backups.human(dump.stat().st_size):>10}  "
            f"{manifest.get('ref', '')!s:<10} {manifest.get('reason', '')}"
        )
    return 0


def cmd_releases(args: Args, settings: ServerSettings, runner: Runner) -> int:
    deploy.server_environment(args.env)
    for entry in releases.read(settings.state_dir, args.env):
        columns = [
            str(entry["at"]),
            f"{entry['result']!s:<9} {entry.get('ref', '')!s:<12} {str(entry.get('sha', ''))[:12]:<12}",
            str(entry.get("who", "")),
            f"{entry.get('seconds', '')}s",
            f"backup: {entry['backup']}" if entry.get("backup") else "",
            str(entry.get("error", "")),
        ]
        print("  ".join(columns).rstrip())
    return 0


def cmd_doctor(args: Args, settings: ServerSettings, runner: Runner) -> int:
    """One environment's table, or every server environment's without ENV."""
    names = [args.env] if args.env else list(environments.server_environments())
    failed = False
    with open(os.devnull, "w") as quiet:  # the table says it all: no command echo
        for name in names:
            checks = doctor.examine(name, settings, Runner(out=quiet))
            print(doctor.table(name, checks) + ("\n" if name != names[-1] else ""))
            failed = failed or any(c.result == doctor.FAIL for c in checks)
    return 1 if failed else 0


def cmd_prune_images(args: Args, settings: ServerSettings, runner: Runner) -> int:
    with runner.step("prune images"):
        images.prune(settings, runner)
    return 0


def cmd_unlock(args: Args, settings: ServerSettings, runner: Runner) -> int:
    deploy.server_environment(args.env)
    locks.release(settings.state_dir / f"deploy-{args.env}.lock")
    print(f"deploy lock of {args.env} removed")
    return 0


def cmd_nginx_activate(args: Args, settings: ServerSettings, runner: Runner) -> int:
    environment = deploy.server_environment(args.env)
    if not nginx.has_certificate(environment, settings):
        raise deploy.Refused(
            f"no certificate in {settings.cert_dir / nginx.host_name(environment)}"
        )
    values = deploy.parse_env_file(settings.root / environment.env_file)
    with runner.step("nginx-activate"):
        deploy.switch_nginx(environment, settings, runner, int(values.get("PORT", "8000")))
    return 0


# Commands that run compose in the environment's current release.
IN_ENVIRONMENT = {
    "ps": ["ps"],
    "logs": ["logs", "-f", "--tail=100"],
    "shell": ["exec", "web", "bash"],
    "migrate": ["run", "--rm", "--no-deps", "manage", "manage", "migrate"],
    "sync-all": ["run", "--rm", "--no-deps", "manage", "manage", "sync_doctolib", "--all"],
}

COMMANDS = {
    "deploy": cmd_deploy,
    "rollback": cmd_rollback,
    "db-backup": cmd_db_backup,
    "db-backups": cmd_db_backups,
    "db-restore": cmd_db_restore,
    "doctor": cmd_doctor,
    "releases": cmd_releases,
    "prune-images": cmd_prune_images,
    "unlock": cmd_unlock,
    "nginx-activate": cmd_nginx_activate,
}


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="python3 -m ops", description=__doc__)
    sub = main_parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("deploy", help="deploy REF (dev/staging: develop by default; prod: a tag)")
    p.add_argument("env")
    p.add_argument("ref", nargs="?")
    p.add_argument(
        "--skip-backup",
        action="store_true",
        help="prod: do not take the pre-migration backup (recorded in the release log)",
    )
    p = sub.add_parser("rollback", help="put a kept image back (the previous release, or TO=sha)")
    p.add_argument("env")
    p.add_argument("to", nargs="?", help="a sha (prefix) from the release log")
    p = sub.add_parser("db-restore", help="restore a backup FILE into ENV's database")
    p.add_argument("env")
    p.add_argument("file", help="a .dump path, or its name in the backups directory")
    p.add_argument("--confirm", metavar="ENV", help="required for prod: --confirm prod")
    p.add_argument(
        "--from-env",
        metavar="ENV",
        help="the backup's environment, required when it is not ENV (recorded)",
    )
    for name, text in [
        ("db-backup", "pg_dump the environment's database into the backups directory"),
        ("db-backups", "list the environment's backups"),
        ("ps", "containers"),
        ("logs", "follow logs"),
        ("shell", "bash in the web container"),
        ("migrate", "apply migrations"),
        ("sync-all", "full Doctolib sync"),
        ("nginx-activate", "make the full proxy config active (after nginx -t)"),
        ("unlock", "remove a stale deploy lock"),
        ("releases", "print the release log"),
    ]:
        sub.add_parser(name, help=text).add_argument("env")
    sub.add_parser(
        "doctor", help="check an environment's part of the server (all without ENV): pass/fail"
    ).add_argument("env", nargs="?")
    sub.add_parser("prune-images", help="remove images no environment keeps")
    for p in sub.choices.values():
        p.add_argument("--dry-run", action="store_true", help="print the commands, change nothing")
    p = sub.add_parser(
        "compose-overlays",
        help="write docker-compose.{dev,staging,prod}.yml from environments.toml",
    )
    p.add_argument("--check", action="store_true")
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "compose-overlays":
        return compose_overlays(args.check)
    settings = ServerSettings.from_environment()
    runner = Runner(dry_run=args.dry_run)
    try:
        if args.command in IN_ENVIRONMENT:
            return in_environment(args.env, settings, runner, *IN_ENVIRONMENT[args.command])
        return COMMANDS[args.command](args, settings, runner)
    except (Refusal, locks.LockHeld) as exc:
        print(f"refused: {exc} (nothing changed)", file=sys.stderr)
        return 2
    except StepFailed as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
