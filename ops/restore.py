"""Restoring a backup into one environment (docs/deployment.md, "Restores").

validate -> verify checksum and origin -> lock -> safety backup -> stop the app -> restore (one
transaction, anonymised when production data leaves production) -> migrate -> start -> health.
Every refusal comes before the lock: a refused restore has touched nothing.
"""

import getpass
import time
from pathlib import Path

from ops import backups, commands, locks, releases
from ops.deploy import DeployResult, check_env_file, compose_env, server_environment, wait_healthy
from ops.environments import Environment
from ops.runner import Refusal, Runner, StepFailed
from ops.settings import ServerSettings

APP_SERVICES = ("web", "celery", "celery_beat")


def restore(
    name: str,
    file: str,
    settings: ServerSettings,
    runner: Runner,
    confirm: str | None = None,
    from_env: str | None = None,
) -> DeployResult:
    environment = server_environment(name)
    backups.check_confirmation(name, confirm)
    values = check_env_file(environment, settings)
    database = backups.Database.from_url(values.get("DATABASE_URL", ""))
    started = time.monotonic()
    entry: dict[str, object] = {
        "file": file,
        "from_env_flag": from_env or "",
        "confirmed": confirm or "",
        "who": getpass.getuser(),
    }
    lock = None
    try:
        dump = backups.find(settings, name, file)
        with runner.step("verify backup"):
            manifest = backups.verify(dump, runner)
            source = str(manifest.get("environment", ""))
            backups.check_origin(name, source, from_env)
            anonymise = backups.needs_anonymising(source, name)
            entry.update(file=dump.name, source=source, anonymised=anonymise)
            runner.say(
                f"    {dump.name}: sha256 ok, made from {source} ({manifest.get('database')}) "
                f"on {manifest.get('created')}{', will be anonymised' if anonymise else ''}"
            )
        if not runner.dry_run:
            lock = locks.acquire(settings.state_dir, name, f"restore {dump.name}")
        with runner.step("safety backup"):
            safety = backups.backup(
                environment,
                settings,
                runner,
                values,
                reason=f"before restoring {dump.name}",
                spare=dump,  # retention must not delete the file about to be restored
            )
            entry["safety_backup"] = safety.name
        replace_data(environment, settings, runner, database, dump, anonymise)
        result = DeployResult(True, message=f"{dump.name} restored into {name}")
    except (StepFailed, Refusal, locks.LockHeld) as exc:
        note = (
            f" (the data as it was is also in {entry['safety_backup']})"
            if "safety_backup" in entry
            else ""
        )
        refused = isinstance(exc, (Refusal, locks.LockHeld))
        result = DeployResult(False, message=f"{exc}{note}", refused=refused)
    finally:
        if lock is not None:
            locks.release(lock)
    if not runner.dry_run:
        backups.record(
            settings,
            name,
            {
                **entry,
                "seconds": round(time.monotonic() - started, 1),
                "result": "succeeded" if result.ok else "refused" if result.refused else "failed",
                **({} if result.ok else {"error": result.message}),
            },
        )
    return result


def replace_data(
    environment: Environment,
    settings: ServerSettings,
    runner: Runner,
    database: backups.Database,
    dump: Path,
    anonymise: bool,
) -> None:
    """Stop the app, replace the data in one transaction, migrate, start the app again
    (whatever happened) and wait until it is healthy. The first failure is the one raised."""
    current = releases.current(settings.state_dir, environment.name)
    if current:
        image = commands.image_name(str(current["sha"]))
        runner.env.update(compose_env(environment, settings, image))
        with runner.step("stop the app"):
            runner.run(commands.compose(environment, settings, "stop", *APP_SERVICES))
    failure: StepFailed | None = None
    try:
        with runner.step("restore"):
            runner.env["PGPASSWORD"] = database.password
            size, _ = runner.stream(
                backups.pg_restore_to_sql(settings),
                source=dump,
                consumer=backups.psql(settings, database),
                preamble=backups.RESTORE_PREAMBLE,
                trailer=backups.restore_sql_trailer(anonymise),
            )
            runner.say(f"    {backups.human(size)} of SQL applied in one transaction")
        if current:
            with runner.step("migrate"):
                runner.run(
                    commands.manage(environment, settings, "migrate", "--noinput"), capture=True
                )
    except StepFailed as exc:
        failure = exc
    if current:
        try:
            with runner.step("start the app"):
                runner.run(commands.up(environment, settings), capture=True)
                if not runner.dry_run:
                    wait_healthy(environment, settings, runner)
        except StepFailed as exc:
            failure = failure or exc
    if failure:
        raise failure
