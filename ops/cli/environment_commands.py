"""The commands that name one environment: `python3 -m ops COMMAND ENV`.

Each handler gets the parsed arguments, the environment resolved into a Target and the runner;
ENVIRONMENT_COMMANDS lists them with whether they need a valid env file and their help.
"""

import argparse
import sys
import time
from collections.abc import Callable

from ops.core import locks, releases
from ops.core.runner import Refusal, Runner
from ops.data import backups, restore
from ops.edge import nginx
from ops.release import deploy
from ops.runtimes import app, runtime, swarm
from ops.server.target import Target
from ops.setup import isolation_setup
from ops.steps.attempt import Outcome, attempt

Args = argparse.Namespace


def report(args: Args, outcome: Outcome, runner: Runner, started: float) -> int:
    """How a deploy, a rollback or a restore ended: 0 done, 2 refused, 1 failed, 130 interrupted."""
    elapsed = time.monotonic() - started
    if outcome.ok and runner.dry_run:
        print(f"{args.command} (dry run): nothing changed; {outcome.message}")
        return 0
    if outcome.ok:
        print(f"{args.command}: {outcome.message} in {elapsed:.1f}s ({runner.summary()})")
        return 0
    if outcome.refused:
        print(f"refused: {outcome.message} (nothing changed)", file=sys.stderr)
        return 2
    print(
        f"{args.command} of {args.env} FAILED after {elapsed:.1f}s: {outcome.message}",
        file=sys.stderr,
    )
    return 1


def cmd_deploy(args: Args, env: Target, runner: Runner) -> int:
    started = time.monotonic()
    outcome = deploy.deploy(
        env, runner, args.ref, args.skip_backup, args.strategy, args.maintenance
    )
    return report(args, outcome, runner, started)


def cmd_rollback(args: Args, env: Target, runner: Runner) -> int:
    started = time.monotonic()
    return report(args, deploy.rollback(env, runner, args.to, args.strategy), runner, started)


def cmd_db_restore(args: Args, env: Target, runner: Runner) -> int:
    started = time.monotonic()
    outcome = restore.restore(env, runner, args.file, args.confirm, args.from_env)
    return report(args, outcome, runner, started)


def cmd_db_backup(args: Args, env: Target, runner: Runner) -> int:
    started = time.monotonic()
    with runner.step("backup"):
        dump = backups.backup(env, runner, reason="by hand")
    said = " would be written (dry run)" if runner.dry_run else ""
    print(f"db-backup: {dump}{said} in {time.monotonic() - started:.1f}s")
    return 0


def cmd_db_backups(args: Args, env: Target, runner: Runner) -> int:
    for dump, manifest in backups.list_backups(env.server, env.name):
        print(
            f"{dump.name}  {backups.human(dump.stat().st_size):>10}  "
            f"{manifest.get('ref', '')!s:<10} {manifest.get('reason', '')}"
        )
    return 0


def cmd_releases(args: Args, env: Target, runner: Runner) -> int:
    for entry in releases.read(env.server.state_dir, env.name):
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


def cmd_unlock(args: Args, env: Target, runner: Runner) -> int:
    lock = env.server.state_dir / f"deploy-{env.name}.lock"
    if runner.dry_run:
        print(f"deploy lock of {env.name} would be removed ({lock})")
        return 0
    locks.release(lock)
    print(f"deploy lock of {env.name} removed")
    return 0


def cmd_nginx_activate(args: Args, env: Target, runner: Runner) -> int:
    if not nginx.has_certificate(env.environment, env.server):
        raise Refusal(f"no certificate in {env.server.cert_dir / nginx.host_name(env.environment)}")
    with (
        runner.step("nginx-activate"),
        locks.server_wide(env.server.state_dir, "nginx config", runner.say, runner.dry_run),
    ):
        nginx.activate(env, runner)
    return 0


def cmd_restart(args: Args, env: Target, runner: Runner) -> int:
    """The current release started again through the switch, under the environment's lock,
    recorded in restarts-ENV.jsonl, put back like a deploy's on failure or interruption."""
    current = env.current_release()
    if current is None:
        raise Refusal(f"nothing is deployed to {env.name} yet: ./deploy.sh {env.name}")
    started, sha = time.monotonic(), str(current["sha"])
    with attempt(env, runner, label="restart", log="restarts") as this:
        this.note(ref=current.get("ref"), sha=sha)
        with runner.step("restart the app"):
            runtime.start_healthy(env, runner, sha, this)
        this.succeed(f"{env.name} restarted {current.get('ref')} ({sha[:12]})")
    assert this.outcome is not None
    return report(args, this.outcome, runner, started)


def cmd_rotate_redis_password(args: Args, env: Target, runner: Runner) -> int:
    started = time.monotonic()
    with attempt(env, runner, label="rotate-redis-password", log="restarts") as this:
        this.note(ref="rotate-redis-password")
        isolation_setup.rotate_redis_password(env, runner, this)
        said = "would use" if runner.dry_run else "uses"
        this.succeed(f"{env.name} {said} a new Redis password")
    assert this.outcome is not None
    return report(args, this.outcome, runner, started)


def cmd_down(args: Args, env: Target, runner: Runner) -> int:
    """Stop and remove the environment's containers (its data, static files and images are
    kept; `python3 -m ops restart ENV` starts the current release again)."""
    if env.name == "prod" and args.confirm != "prod" and not runner.dry_run:
        if not sys.stdin.isatty():
            raise Refusal("stopping prod needs --confirm prod (make down ENV=prod CONFIRM=prod)")
        answer = input("This stops production: type prod to go on: ")
        if answer.strip() != "prod":
            raise Refusal("not confirmed")
    with runner.step("stop and remove the containers"):
        runtime.of(env).down(env, runner)
    said = "would be down" if runner.dry_run else "is down"
    print(f"down: {env.name} {said} (start it again: python3 -m ops restart {env.name})")
    return 0


def cmd_logs(args: Args, env: Target, runner: Runner) -> int:
    """The last lines of every container (--tail), from --since on, then follow unless
    --no-follow."""
    current = env.current_release()
    if current is None:
        raise Refusal(f"nothing is deployed to {env.name} yet: ./deploy.sh {env.name}")
    app.use_image(env, runner, str(current["sha"]))
    one_by_one, together = runtime.of(env).logs_commands(
        env, runner, args.since, args.tail, not args.no_follow
    )
    codes = [runner.run(command, check=False).returncode for command in one_by_one]
    codes.append(runner.run_together(together))  # every command runs, whichever failed
    return next((code for code in codes if code), 0)


def in_environment(
    compose_args: list[str], slot: bool = False
) -> Callable[[Args, Target, Runner], int]:
    """A command that runs compose in the environment's current release (slot: in the live
    web slot's project, ops/server/slots.py)."""

    def command(args: Args, env: Target, runner: Runner) -> int:
        return app.in_current_release(env, runner, compose_args, slot)

    return command


def cmd_ps(args: Args, env: Target, runner: Runner) -> int:
    """Compose: which web slot is live, then its containers. Swarm: services and tasks."""
    return runtime.of(env).ps(env, runner)


def cmd_shell(args: Args, env: Target, runner: Runner) -> int:
    return runtime.of(env).shell(env, runner)


def cmd_scale(args: Args, env: Target, runner: Runner) -> int:
    """Swarm: web and worker replicas, kept for the next deploys."""
    started = time.monotonic()
    with runner.step("scale"):
        runtime.of(env).scale(env, runner, args.web, args.worker)
    wanted = swarm.replicas(env)
    print(
        f"scale: {env.name} runs web x{wanted.web}, worker x{wanted.worker} "
        f"in {time.monotonic() - started:.1f}s"
    )
    return 0


# Per environment: (handler, whether it needs a valid env file, help).
Handler = Callable[[Args, Target, Runner], int]
ENVIRONMENT_COMMANDS: dict[str, tuple[Handler, bool, str]] = {
    "deploy": (cmd_deploy, True, "deploy REF (dev/staging: develop by default; prod: a tag)"),
    "rollback": (cmd_rollback, True, "put a kept image back (the previous release, or TO=sha)"),
    "db-restore": (cmd_db_restore, True, "restore a backup FILE into ENV's database"),
    "db-backup": (
        cmd_db_backup,
        True,
        "pg_dump the environment's database into the backups directory",
    ),
    "db-backups": (cmd_db_backups, False, "list the environment's backups"),
    "nginx-activate": (
        cmd_nginx_activate,
        True,
        "make the full proxy config active (after nginx -t)",
    ),
    "unlock": (cmd_unlock, False, "remove a stale deploy lock"),
    "restart": (cmd_restart, True, "start the current release again (after an env file change)"),
    "rotate-redis-password": (
        cmd_rotate_redis_password,
        True,
        "a new Redis password for ENV (env file, ACL file, app restarted; no request fails)",
    ),
    "releases": (cmd_releases, False, "print the release log"),
    "ps": (cmd_ps, False, "containers, and which web slot is live"),
    "logs": (cmd_logs, False, "the last lines of every container's logs, then follow them"),
    "shell": (cmd_shell, False, "bash in the live web container"),
    "scale": (cmd_scale, False, "swarm: replicas of web (WEB=) and the worker (WORKER=)"),
    "down": (cmd_down, False, "stop and remove the containers (prod: --confirm prod)"),
    "migrate": (
        in_environment(["run", "--rm", "--no-deps", "manage", "manage", "migrate"]),
        True,
        "apply migrations",
    ),
    "sync-all": (
        in_environment(["run", "--rm", "--no-deps", "manage", "manage", "sync_doctolib", "--all"]),
        True,
        "full Doctolib sync",
    ),
}
