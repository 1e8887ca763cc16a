"""The commands about the whole server (every environment without ENV): the doctor, isolation,
first-time setup, pruning images; and `generate`, which needs no server at all."""

import argparse
import os

from ops.core.runner import Refusal, Runner
from ops.doctor import checks as doctor
from ops.doctor import context as doctor_context
from ops.release import images
from ops.server import environments, generate, settings, target
from ops.server.settings import ServerSettings
from ops.setup import isolation_setup, server_init

Args = argparse.Namespace


def cmd_doctor(args: Args, server: ServerSettings) -> int:
    """One environment's table, or every server environment's without ENV; first, where each
    server setting came from."""
    names = [args.env] if args.env else list(environments.server_environments())
    print(settings.settings_report(server) + "\n")
    failed = False
    with open(os.devnull, "w") as quiet:  # the table says it all: no command echo
        for name in names:
            checks = doctor.examine(target.resolve(name, server), Runner(out=quiet))
            print(doctor_context.table(name, checks) + ("\n" if name != names[-1] else ""))
            failed = failed or any(c.result == doctor_context.FAIL for c in checks)
    return 1 if failed else 0


def cmd_isolation(args: Args, server: ServerSettings, runner: Runner) -> int:
    """Print (or --apply) the PostgreSQL roles and the Redis ACL of the environments."""
    names = [args.env] if args.env else list(environments.server_environments())
    targets = [target.resolve(name, server) for name in names]
    if not args.env:  # every environment set up so far
        for env in targets:
            if not env.env_file.path.is_file():
                print(f"skipped {env.name}: no env file {env.env_file.path} yet")
        targets = [env for env in targets if env.env_file.path.is_file()]
    if not targets:
        raise Refusal("no environment has an env file yet (docs/deployment/first-time-setup.md)")
    for env in targets:
        env.require_valid_env_file()
    isolation_setup.isolate(targets, runner, apply=args.apply)
    return 0


def cmd_server_init(args: Args, server: ServerSettings, runner: Runner) -> int:
    """First-time setup (docs/deployment/first-time-setup.md): again and again, it changes nothing more."""
    names = [args.env] if args.env else list(environments.server_environments())
    for name in names:
        target.server_environment(name)  # an unknown one is refused by name
    setup = server_init.server_init(server, runner, names, apply=args.apply)
    print(server_init.summary(setup, names))
    return 0


def cmd_prune_images(args: Args, server: ServerSettings, runner: Runner) -> int:
    with runner.step("prune images"):
        images.prune(server, runner)
    return 0


def cmd_generate(args: Args) -> int:
    stale = generate.write(check=args.check)
    if stale and args.check:
        print(
            f"out of date with environments.toml: {', '.join(stale)} (run python3 -m ops generate)"
        )
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


SERVER_COMMANDS = {
    "prune-images": cmd_prune_images,
    "isolation": cmd_isolation,
    "server-init": cmd_server_init,
}
