"""python3 -m ops COMMAND — Aletheia's server tool (standard library only).

Every command that changes something takes --dry-run, which prints the exact commands instead.
"""

import argparse
import sys
import time

from ops import commands, compose, deploy, environments, locks, nginx, releases
from ops.runner import Runner, StepFailed
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m ops", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "deploy", help="deploy REF (dev/staging: develop by default; prod: a tag) to ENV"
    )
    p.add_argument("env")
    p.add_argument("ref", nargs="?")
    back = sub.add_parser(
        "rollback", help="put a kept image back (the previous release, or TO=sha)"
    )
    back.add_argument("env")
    back.add_argument("to", nargs="?", help="a sha (prefix) from the release log")
    for name, text in [
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
    for p in sub.choices.values():
        p.add_argument("--dry-run", action="store_true", help="print the commands, change nothing")
    o = sub.add_parser(
        "compose-overlays",
        help="write docker-compose.{dev,staging,prod}.yml from environments.toml",
    )
    o.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)

    if args.command == "compose-overlays":
        return compose_overlays(args.check)
    settings = ServerSettings.from_environment()
    runner = Runner(dry_run=args.dry_run)
    started = time.monotonic()
    try:
        if args.command in ("deploy", "rollback"):
            if args.command == "deploy":
                result = deploy.deploy(args.env, args.ref, settings, runner)
            else:
                result = deploy.rollback(args.env, args.to, settings, runner)
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
        if args.command == "releases":
            deploy.server_environment(args.env)
            for r in releases.read(settings.state_dir, args.env):
                print(
                    f"{r['at']}  {r['result']:<9} {r.get('ref', ''):<12} {str(r.get('sha', ''))[:12]:<12} "
                    f"{r.get('who', '')}  {r.get('seconds', '')}s  {r.get('error', '')}"
                )
            return 0
        if args.command == "unlock":
            deploy.server_environment(args.env)
            locks.release(settings.state_dir / f"deploy-{args.env}.lock")
            print(f"deploy lock of {args.env} removed")
            return 0
        if args.command == "nginx-activate":
            environment = deploy.server_environment(args.env)
            if not nginx.has_certificate(environment, settings):
                raise deploy.Refused(
                    f"no certificate in {settings.cert_dir / nginx.host_name(environment)}"
                )
            values = deploy.parse_env_file(settings.root / environment.env_file)
            with runner.step("nginx-activate"):
                deploy.switch_nginx(environment, settings, runner, int(values.get("PORT", "8000")))
            return 0
        compose_args = {
            "ps": ["ps"],
            "logs": ["logs", "-f", "--tail=100"],
            "shell": ["exec", "web", "bash"],
            "migrate": ["run", "--rm", "--no-deps", "manage", "manage", "migrate"],
            "sync-all": ["run", "--rm", "--no-deps", "manage", "manage", "sync_doctolib", "--all"],
        }[args.command]
        return in_environment(args.env, settings, runner, *compose_args)
    except (deploy.Refused, locks.LockHeld) as exc:
        print(f"refused: {exc} (nothing changed)", file=sys.stderr)
        return 2
    except StepFailed as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
