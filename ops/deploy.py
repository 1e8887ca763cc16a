"""The deploy flow (docs/deployment.md, "Deploying"), and the per-environment commands.

validate -> lock -> fetch -> resolve ref -> build (from the commit, the checkout untouched) ->
backup (prod) -> migrate -> collectstatic -> periodic tasks -> up -> health -> nginx -> prune
images -> record. A failure stops there, names the step and the cause, keeps (or puts back) the
previous release, frees the lock.
"""

import getpass
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ops import backups, commands, environments, images, locks, nginx, releases
from ops.environments import Environment
from ops.runner import Refusal, Runner, StepFailed
from ops.settings import ServerSettings


class Refused(Refusal):
    """Refused before anything changed."""


REQUIRED_KEYS = {
    "development": ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"],
    "production": ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALETHEIA_EMAIL"],
}


def server_environment(name: str) -> Environment:
    servers = environments.server_environments()
    if name not in servers:
        raise Refused(f"unknown environment {name!r}: one of {', '.join(servers)}")
    return servers[name]


def parse_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def env_file_problems(
    environment: Environment, settings: ServerSettings
) -> tuple[dict[str, str], list[str]]:
    """The env file's values, and what is wrong with it (missing, readable by others, lacking
    required keys), each said with the fix."""
    path = settings.root / environment.env_file
    if not path.is_file():
        return {}, [f"env file {path} is missing (see docs/deployment.md, first-time setup)"]
    problems = []
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        problems.append(f"env file {path} is readable by others (mode {mode:o}): chmod 600 {path}")
    values = parse_env_file(path)
    missing = [k for k in REQUIRED_KEYS[environment.settings] if not values.get(k)]
    if values.get("ALETHEIA_EMAIL") == "brevo" and not values.get("BREVO_API_KEY"):
        missing.append("BREVO_API_KEY")
    if values.get("ALETHEIA_EMAIL") == "smtp" and not values.get("EMAIL_URL"):
        missing.append("EMAIL_URL")
    if missing:
        problems.append(f"env file {path} lacks: {', '.join(missing)}")
    return values, problems


def check_env_file(environment: Environment, settings: ServerSettings) -> dict[str, str]:
    values, problems = env_file_problems(environment, settings)
    if problems:
        raise Refused(problems[0])
    return values


def choose_ref(environment: Environment, ref: str | None) -> str:
    if environment.refs == "tag":
        if not ref:
            raise Refused(
                f"{environment.name} deploys a tag only: give one, e.g. ./deploy.sh {environment.name} v1.2"
            )
        return ref
    return ref or environment.default_ref


def resolve(environment: Environment, settings: ServerSettings, runner: Runner, ref: str) -> str:
    """The commit to deploy. prod: an existing tag and nothing else."""

    def commit_of(candidate: str) -> str | None:
        result = runner.run(
            commands.git_resolve(settings, candidate), check=False, capture=True, mutating=False
        )
        return result.stdout.strip() or None

    if environment.refs == "tag":
        sha = commit_of(f"refs/tags/{ref}")
        if sha is None:
            kind = (
                "a branch"
                if commit_of(f"refs/remotes/origin/{ref}") or commit_of(f"refs/heads/{ref}")
                else "unknown"
            )
            raise Refused(f"{environment.name} deploys an existing tag only; {ref!r} is {kind}")
        return sha
    for candidate in (f"refs/remotes/origin/{ref}", f"refs/tags/{ref}", f"refs/heads/{ref}", ref):
        sha = commit_of(candidate)
        if sha:
            return sha
    raise Refused(f"unknown ref {ref!r}: not a branch, tag or commit of {settings.checkout}")


def compose_env(environment: Environment, settings: ServerSettings, image: str) -> dict[str, str]:
    return {
        "ALETHEIA_IMAGE": image,
        "ALETHEIA_SERVER_ROOT": str(settings.root),
        "ALETHEIA_ENV_NAME": environment.name,
    }


def build_image(settings: ServerSettings, runner: Runner, sha: str) -> None:
    if (
        runner.run(
            commands.image_exists(settings, sha), check=False, capture=True, mutating=False
        ).returncode
        == 0
    ):
        runner.say(f"    {commands.image_name(sha)} exists: reused, no rebuild")
        return
    with tempfile.TemporaryDirectory(prefix=f"aletheia-build-{sha[:12]}-") as workdir:
        tarball, context = Path(workdir, "source.tar"), Path(workdir, "source")
        context.mkdir()
        runner.run(commands.git_archive(settings, sha, tarball))
        runner.run(commands.untar(tarball, context))
        runner.env["DOCKER_BUILDKIT"] = "1"
        runner.run(commands.image_build(settings, sha, context))


def wait_healthy(environment: Environment, settings: ServerSettings, runner: Runner) -> None:
    deadline = time.monotonic() + settings.health_timeout
    while True:
        result = runner.run(commands.web_health(environment, settings), check=False, capture=True)
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise StepFailed(
                f"step 'health check' failed: /healthz not 200 within {settings.health_timeout:.0f}s"
                f" ({(result.stdout or result.stderr).strip()[-200:]})"
            )
        time.sleep(1)


def switch_nginx(
    environment: Environment, settings: ServerSettings, runner: Runner, web_port: int
) -> None:
    """Write the env's configs; the full one goes live when the certificate exists, else the
    503 placeholder. A config nginx -t refuses is taken back."""
    ports = nginx.NginxPorts.from_environment()
    if runner.dry_run:
        runner.say(
            f"    would write {settings.nginx_dir}/aletheia-{environment.name}.conf{{,.full,.temp}}"
        )
        runner.run(list(settings.nginx_test))
        runner.run(list(settings.nginx_reload))
        return
    files = nginx.write_templates(environment, settings, ports, web_port)
    which = "full" if nginx.has_certificate(environment, settings) else "temp"
    if which == "temp":
        runner.say(
            f"    no certificate in {settings.cert_dir / nginx.host_name(environment)}: serving the 503 placeholder"
        )
    previous = nginx.swap_active(files, which)
    if runner.run(list(settings.nginx_test), check=False, capture=True).returncode != 0:
        nginx.restore_active(files, previous)
        runner.run(list(settings.nginx_test), check=False, capture=True)
        raise StepFailed(
            "step 'nginx' failed: nginx -t refused the new config (previous config restored)"
        )
    runner.run(list(settings.nginx_reload))


def switch_to(
    environment: Environment,
    settings: ServerSettings,
    runner: Runner,
    sha: str,
    web_port: int,
    fallback: dict[str, object] | None,
) -> None:
    """Run `sha`'s image: start it, wait until healthy (else put `fallback` back), then nginx.
    The one switch deploys and rollbacks share."""
    runner.env.update(compose_env(environment, settings, commands.image_name(sha)))
    with runner.step("start containers"):
        runner.run(commands.up(environment, settings), capture=True)
    with runner.step("health check"):
        if not runner.dry_run:
            try:
                wait_healthy(environment, settings, runner)
            except StepFailed:
                if fallback:
                    runner.say(f"    putting back the previous release {fallback['sha']}")
                    runner.env["ALETHEIA_IMAGE"] = commands.image_name(str(fallback["sha"]))
                    runner.run(commands.up(environment, settings), check=False, capture=True)
                raise
    with runner.step("nginx"):
        switch_nginx(environment, settings, runner, web_port)


@dataclass
class DeployResult:
    ok: bool
    sha: str = ""
    message: str = ""
    refused: bool = False


def run_attempt(
    name: str,
    settings: ServerSettings,
    runner: Runner,
    log_ref: str,
    work: Callable[[dict[str, str]], str],
) -> DeployResult:
    """Under the env's lock, run `work` (which notes the sha it settles on and returns the
    success message); record the attempt in the release log, whatever happened."""
    started = time.monotonic()
    lock = None if runner.dry_run else locks.acquire(settings.state_dir, name, log_ref)
    found = {"sha": ""}
    try:
        message = work(found)
        result = DeployResult(True, found["sha"], message)
    except (StepFailed, Refusal) as exc:
        result = DeployResult(False, found["sha"], str(exc), refused=isinstance(exc, Refusal))
    finally:
        if lock is not None:
            locks.release(lock)
    if not runner.dry_run:
        releases.record(
            settings.state_dir,
            name,
            {
                "ref": log_ref,
                "sha": result.sha,
                "image": commands.image_name(result.sha) if result.sha else "",
                "who": getpass.getuser(),
                "seconds": round(time.monotonic() - started, 1),
                "result": "succeeded" if result.ok else "refused" if result.refused else "failed",
                **{key: value for key, value in found.items() if key != "sha"},
                **(
                    {}
                    if result.ok
                    else {
                        "failed_step": runner.steps[-1][0] if runner.steps else "validate",
                        "error": result.message,
                    }
                ),
            },
        )
    return result


def deploy(
    name: str,
    ref: str | None,
    settings: ServerSettings,
    runner: Runner,
    skip_backup: bool = False,
) -> DeployResult:
    environment = server_environment(name)
    ref = choose_ref(environment, ref)
    values = check_env_file(environment, settings)
    web_port = int(values.get("PORT", "8000"))
    previous = releases.current(settings.state_dir, name)

    def work(found: dict[str, str]) -> str:
        with runner.step("fetch"):
            runner.run(commands.git_fetch(settings))
        with runner.step("resolve ref"):
            found["sha"] = sha = resolve(environment, settings, runner, ref)
            runner.say(f"    {ref} = {sha}")
        with runner.step("build image"):
            build_image(settings, runner, sha)
        if environment.backup_before_deploy:
            with runner.step("backup"):
                if skip_backup:
                    found["backup"] = "skipped (--skip-backup)"
                    runner.say("    skipped: --skip-backup (recorded in the release log)")
                else:
                    dump = backups.backup(
                        environment, settings, runner, values, reason=f"before deploying {ref}"
                    )
                    found["backup"] = dump.name
        runner.env.update(compose_env(environment, settings, commands.image_name(sha)))
        for label, args in (
            ("migrate", ["migrate", "--noinput"]),
            ("collectstatic", ["collectstatic", "--noinput", "-v0"]),
            ("periodic tasks", ["sync_periodic_tasks"]),
        ):
            with runner.step(label):
                runner.run(commands.manage(environment, settings, *args), capture=True)
        switch_to(environment, settings, runner, sha, web_port, fallback=previous)
        with runner.step("prune images"):
            try:
                images.prune(settings, runner, besides=name, also_keep=sha)
            except StepFailed as exc:  # the release is live: a failed cleanup is only a warning
                runner.say(f"    warning: {exc}")
        return f"{name} now runs {ref} ({sha[:12]})"

    return run_attempt(name, settings, runner, ref, work)


def rollback_target(name: str, settings: ServerSettings, to: str | None) -> dict[str, object]:
    """The release to go back to: TO (a sha prefix) or the last good one before the current."""
    good = [r for r in releases.read(settings.state_dir, name) if r.get("result") == "succeeded"]
    if not good:
        raise Refused(f"nothing has been deployed to {name}: no release to roll back to")
    current_sha = str(good[-1]["sha"])
    if to:
        matches = [r for r in reversed(good) if str(r["sha"]).startswith(to)]
        if not matches:
            raise Refused(f"{to!r} is not a release of {name} (make releases ENV={name})")
        return matches[0]
    earlier = [r for r in reversed(good) if r["sha"] != current_sha]
    if not earlier:
        raise Refused(
            f"{name} has had a single release ({current_sha[:12]}): nothing earlier to go back to"
        )
    return earlier[0]


def rollback(name: str, to: str | None, settings: ServerSettings, runner: Runner) -> DeployResult:
    """Put a kept image back through the same switch: no fetch, no build, no migration."""
    environment = server_environment(name)
    web_port = int(check_env_file(environment, settings).get("PORT", "8000"))
    target = rollback_target(name, settings, to)
    current = releases.current(settings.state_dir, name)
    sha = str(target["sha"])

    def work(found: dict[str, str]) -> str:
        found["sha"] = sha
        with runner.step("image kept"):
            kept = runner.run(
                commands.image_exists(settings, sha), check=False, capture=True, mutating=False
            )
            if kept.returncode != 0 and not runner.dry_run:
                raise Refused(
                    f"image {commands.image_name(sha)} is no longer kept: deploy {target.get('ref')} instead"
                )
        switch_to(environment, settings, runner, sha, web_port, fallback=current)
        return f"{name} rolled back to {target.get('ref')} ({sha[:12]})"

    return run_attempt(name, settings, runner, f"rollback:{target.get('ref')}", work)
