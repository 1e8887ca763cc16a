"""The deploy flow (docs/deployment/deploy.md) and rollbacks.

lock -> fetch -> resolve ref -> build (from the commit, the checkout untouched) -> migration
lint -> backup (prod) -> maintenance (--maintenance) -> check -> migrate -> collectstatic ->
periodic tasks -> the switch (ops/runtimes/app.py: start web, health check, nginx, worker, drain, beat)
-> prune images -> record. A failure stops there, names the step and the cause, keeps (or puts back) the previous
release, frees the lock; ops/steps/attempt.py does the bookkeeping.
"""

from ops.core import locks, releases
from ops.core.runner import Refusal, Runner
from ops.data import backups
from ops.edge import nginx
from ops.release import images, refs
from ops.runtimes import app, runtime
from ops.server import slots
from ops.server.target import Target
from ops.steps import commands
from ops.steps.attempt import Attempt, Outcome, attempt

RELEASE_TASKS = (
    ("migrate", ("migrate", "--noinput")),
    ("collectstatic", ("collectstatic", "--noinput", "-v0")),
    ("periodic tasks", ("sync_periodic_tasks",)),
)
# The numbered steps a deploy prints, always all of them (one that does not apply to the
# environment says "skipped" and why): docs/deployment/deploy.md lists them with these numbers, and
# tests/test_ops.py checks that both agree.
DEPLOY_STEPS = (
    "fetch",
    "resolve ref",
    "build image",
    "migration lint",
    "backup",
    "maintenance",
    "check",
    *(label for label, _ in RELEASE_TASKS),
    *app.SWITCH_STEPS,
    "prune images",
)


def deploy(
    target: Target,
    runner: Runner,
    ref: str | None,
    skip_backup: bool = False,
    strategy: str = "switch",
    maintenance: bool = False,
) -> Outcome:
    ref = refs.choose(target.environment, ref)
    with attempt(target, runner, label=ref) as this:
        this.note(ref=ref, sha="", image="", strategy=strategy)
        runtime.of(target).preflight(target, runner)  # refused before anything changes
        with locks.server_wide(target.server.state_dir, "git checkout", runner.say, runner.dry_run):
            with runner.step("fetch"):
                runner.run(commands.git_fetch(target.server))
            with runner.step("resolve ref"):
                sha = refs.resolve(target.environment, target.server, runner, ref)
                this.note(sha=sha, image=commands.image_name(sha))
                runner.say(f"    {ref} = {sha}")
            with runner.step("build image"):
                images.ensure_built(target.server, runner, sha)
                release = app.with_release_files(target, runner, sha)
        with runner.step("migration lint"):
            lint_migrations(release, runner, this, sha, maintenance)
        with runner.step("backup"):
            if target.environment.backup_before_deploy:
                this.note(backup=backup_before_deploy(target, runner, ref, skip_backup))
            else:
                runner.say(
                    f"    skipped: {target.name} takes no backup before deploying "
                    "(environments.toml: backup_before_deploy)"
                )
        with runner.step("maintenance"):
            if maintenance:
                enter_maintenance(release, runner, this)
            else:
                runner.say("    skipped: the previous release serves until the switch")
        run_release_tasks(release, runner, sha)
        runtime.of(release).switch_to(release, runner, this, sha, strategy)
        this.note(web_slot=slots.live(target.server, target.name) or "")
        with runner.step("prune images"):
            images.prune_after_deploy(target.server, runner, target.name, sha)
        runs = "would run" if runner.dry_run else "now runs"
        this.succeed(f"{target.name} {runs} {ref} ({sha[:12]})")
    assert this.outcome is not None
    return this.outcome


LINT = ("lintmigrations", "--unapplied-migrations", "--quiet", "ok", "ignore")


def lint_migrations(
    target: Target, runner: Runner, this: Attempt, sha: str, maintenance: bool
) -> None:
    """The release's migrations not applied yet must be backward compatible (the previous
    release serves while they run): django-migration-linter in a one-off of the new image.
    Backward-incompatible ones are refused, unless --maintenance."""
    if target.current_release() is None:
        runner.say("    first deploy: no previous release to stay compatible with")
        return
    app.use_image(target, runner, sha)
    result = runner.run(commands.manage(target, *LINT), check=False, capture=True)
    if result.returncode == 0:
        return
    lines = (result.stdout + result.stderr).splitlines()
    said = [line.strip() for line in lines if line.strip()]
    detail = " | ".join(
        line.strip() for line in lines if "... ERR" in line or line.startswith("\t")
    )[-600:]
    this.note(migration_lint="backward incompatible")
    if maintenance:
        runner.say(
            f"    backward-incompatible migrations, deployed behind the placeholder: {detail}"
        )
        return
    raise Refusal(
        "backward-incompatible migrations (the previous release serves while they run): "
        f"{detail or said[-1:]}; make them expand/contract (docs/deployment/migrations.md) or deploy "
        "with --maintenance (behind the 503 placeholder)"
    )


def enter_maintenance(target: Target, runner: Runner, this: Attempt) -> None:
    """--maintenance: the 503 placeholder, then the app stopped, before anything migrates;
    the switch puts the full config back once the new release is healthy."""
    this.note(maintenance=True)
    previous = target.current_release()
    if previous:
        previous_sha = str(previous["sha"])
        this.recover_with(
            f"starting the previous release {previous.get('ref')} ({previous_sha[:12]}) again",
            lambda: runtime.start_healthy(target.at_release(previous_sha), runner, previous_sha),
        )
    nginx.placeholder(target, runner)
    runtime.of(target).stop(target, runner)


def backup_before_deploy(target: Target, runner: Runner, ref: str, skip: bool) -> str:
    """The backup's file name, or why there is none (both go into the release log)."""
    if skip:
        runner.say("    skipped: --skip-backup (recorded in the release log)")
        return "skipped (--skip-backup)"
    return backups.backup(target, runner, reason=f"before deploying {ref}").name


# Production settings must pass Django's deployment checks in the new image before anything
# changes (a placeholder or short SECRET_KEY, a missing security setting: refused).
DEPLOY_CHECK = ("check", ("check", "--deploy", "--fail-level", "WARNING"))


def run_release_tasks(target: Target, runner: Runner, sha: str) -> None:
    """One-off containers of the new image, while the previous release still serves."""
    app.use_image(target, runner, sha)
    with runner.step(DEPLOY_CHECK[0]):
        if target.environment.settings == "production":
            app.run_manage(target, runner, *DEPLOY_CHECK[1])
        else:
            runner.say("    skipped: development settings (check --deploy is for production)")
    for label, args in RELEASE_TASKS:
        with runner.step(label):
            if label == "collectstatic":
                app.prepare_static(target, runner, sha)
            app.run_manage(target, runner, *args)


def rollback_target(target: Target, to: str | None) -> dict[str, object]:
    """The release to go back to: TO (a sha prefix) or the last good one before the current."""
    log = releases.read(target.server.state_dir, target.name)
    good = [entry for entry in log if entry.get("result") == "succeeded"]
    if not good:
        raise Refusal(f"nothing has been deployed to {target.name}: no release to roll back to")
    current_sha = str(good[-1]["sha"])
    if to:
        matches = [entry for entry in reversed(good) if str(entry["sha"]).startswith(to)]
        if not matches:
            raise Refusal(
                f"{to!r} is not a release of {target.name} (make releases ENV={target.name})"
            )
        return matches[0]
    earlier = [entry for entry in reversed(good) if entry["sha"] != current_sha]
    if not earlier:
        raise Refusal(
            f"{target.name} has had a single release ({current_sha[:12]}): nothing earlier to go back to"
        )
    return earlier[0]


def rollback(target: Target, runner: Runner, to: str | None, strategy: str = "switch") -> Outcome:
    """Put a kept image back through the same switch: no fetch, no build, no migration."""
    entry = rollback_target(target, to)
    sha, ref = str(entry["sha"]), str(entry.get("ref"))
    with attempt(target, runner, label=f"rollback:{ref}") as this:
        this.note(ref=f"rollback:{ref}", sha=sha, image=commands.image_name(sha), strategy=strategy)
        runtime.of(target).preflight(target, runner)
        with (
            runner.step("image kept"),
            locks.server_wide(target.server.state_dir, "git checkout", runner.say, runner.dry_run),
        ):
            check_image_kept(target, runner, sha, ref)
            back = app.with_release_files(target, runner, sha)
        runtime.of(back).switch_to(back, runner, this, sha, strategy)
        this.note(web_slot=slots.live(target.server, target.name) or "")
        went = "would roll back" if runner.dry_run else "rolled back"
        this.succeed(f"{target.name} {went} to {ref} ({sha[:12]})")
    assert this.outcome is not None
    return this.outcome


def check_image_kept(target: Target, runner: Runner, sha: str, ref: str) -> None:
    kept = runner.run(
        commands.image_exists(target.server, sha), check=False, capture=True, mutating=False
    )
    if kept.returncode != 0 and not runner.dry_run:
        raise Refusal(f"image {commands.image_name(sha)} is no longer kept: deploy {ref} instead")
