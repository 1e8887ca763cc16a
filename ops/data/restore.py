"""Restoring a backup into one environment (docs/deployment/backups.md, "Restores").

confirm (prod) -> lock -> verify checksum and origin -> safety backup -> stop the app -> restore
(one transaction, anonymised when production data leaves production) -> migrate -> start ->
health. A refusal has touched nothing; once the app is stopped, a failure or an interruption
starts it again (ops/steps/attempt.py).
"""

from pathlib import Path

from ops.core.runner import Runner
from ops.data import backups
from ops.edge import nginx
from ops.runtimes import app, runtime
from ops.server import environments
from ops.server.target import Target, resolve
from ops.steps.attempt import Attempt, Outcome, attempt


def restore(
    target: Target,
    runner: Runner,
    file: str,
    confirm: str | None = None,
    from_env: str | None = None,
) -> Outcome:
    backups.check_confirmation(target.name, confirm)
    database = backups.Database.from_url(target.env_file.get("DATABASE_URL"))
    with attempt(target, runner, label=f"restore {Path(file).name}", log="restores") as this:
        this.note(file=file, from_env_flag=from_env or "", confirmed=confirm or "")
        dump = backups.find(target.server, target.name, file)
        with runner.step("verify backup"):
            manifest = backups.verify(dump, runner)
            dumped = backups.dumped_database(dump, target.server, runner)
            source = (
                backups.origin(dump, manifest, databases(target), dumped)
                if not runner.dry_run
                else str(manifest.get("environment", ""))
            )
            backups.check_origin(target.name, source, from_env)
            anonymise = backups.needs_anonymising(source, target.name)
            this.note(file=dump.name, source=source, anonymised=anonymise)
            runner.say(
                f"    {dump.name}: sha256 ok, made from {source} ({manifest.get('database')}) "
                f"on {manifest.get('created')}{', will be anonymised' if anonymise else ''}"
            )
        with runner.step("safety backup"):
            # retention must not delete the file about to be restored
            safety = backups.backup(
                target, runner, reason=f"before restoring {dump.name}", spare=dump
            )
            this.note(safety_backup=safety.name)
        replace_data(target, runner, this, database, dump, anonymise)
        this.succeed(
            f"{dump.name} {'would be restored' if runner.dry_run else 'restored'} into {target.name}"
        )
    assert this.outcome is not None
    if not this.outcome.ok and "safety_backup" in this.notes:
        note = f" (the data as it was is also in {this.notes['safety_backup']})"
        return Outcome(False, message=this.outcome.message + note, refused=this.outcome.refused)
    return this.outcome


def databases(target: Target) -> dict[str, str]:
    """Each server environment's database name, from its env file (else the matrix)."""
    found = {}
    for name in environments.server_environments():
        other = resolve(name, target.server)
        url = other.env_file.get("DATABASE_URL")
        found[name] = backups.Database.from_url(url).name if url else other.environment.database
    return found


def replace_data(
    target: Target,
    runner: Runner,
    this: Attempt,
    database: backups.Database,
    dump: Path,
    anonymise: bool,
) -> None:
    """Stop the app, replace the data in one transaction, migrate with the running release,
    start the app again and wait until it is healthy."""
    current = target.current_release()
    if current:
        sha = str(current["sha"])
        app.use_image(target, runner, sha)
        this.recover_with(
            "starting the app again", lambda: runtime.start_healthy(target, runner, sha)
        )
        with runner.step("stop the app"):
            nginx.placeholder(target, runner)  # a 503 "deployment in progress", not 502s
            runtime.of(target).stop(target, runner)
    with runner.step("restore"):
        runner.env["PGPASSWORD"] = database.password
        size, _ = runner.stream(
            backups.pg_restore_to_sql(target.server),
            source=dump,
            consumer=backups.psql(target.server, database),
            preamble=backups.RESTORE_PREAMBLE,
            trailer=backups.restore_sql_trailer(anonymise),
        )
        if not runner.dry_run:
            runner.say(f"    {backups.human(size)} of SQL applied in one transaction")
    if current:
        with runner.step("migrate"):
            app.run_manage(target, runner, "migrate", "--noinput")
        with runner.step("start the app"):  # through the switch: the full nginx config back too
            runtime.start_healthy(target, runner, str(current["sha"]))
        this.recover_with("", None)
