"""`make server-init` (python3 -m ops server-init [ENV] [--apply]): a server's first-time setup,
in either network mode, and safe to run again (a second run changes nothing and says so).

It makes the server's folders, writes server.env from the settings given (when there is none),
writes each environment's env file from ops/env-templates/ENV.env with generated secrets
(never overwriting one), checks the web ports are distinct under host networking, prints (or,
with --apply, applies) each environment's PostgreSQL role and database and the Redis ACL users
(ops/setup/isolation_setup.py), gives the doctor its basic-auth credentials, and ends with exactly
what is left to do by hand: the nginx include line, the certificates, the email keys.
"""

import base64
import hashlib
import os
import secrets
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ops.core.runner import Refusal, Runner
from ops.data import backups
from ops.doctor.edge import DOCTOR_USER
from ops.edge.nginx import host_name
from ops.server import environments, target
from ops.server.settings import DEFAULT, ServerSettings, described, settings_file
from ops.server.target import Target
from ops.setup import isolation, isolation_setup

TEMPLATES = Path(__file__).resolve().parents[1] / "env-templates"


@dataclass
class Setup:
    server: ServerSettings
    runner: Runner
    changes: list[str] = field(default_factory=list)
    by_hand: list[str] = field(default_factory=list)

    def changed(self, done: str, would: str) -> None:
        """Something changed (`done`), or a dry run says what `would` change."""
        self.changes.append(done)
        self.runner.say(f"    {'would ' + would if self.runner.dry_run else done}")

    def kept(self, what: str) -> None:
        self.runner.say(f"    {what}: already there")


def make_folders(setup: Setup, names: list[str]) -> None:
    """The server's layout. The env files and backups are root's only; nginx's worker must
    be able to walk to the static files (host networking) and the configs."""
    root, server = setup.server.root, setup.server
    folders = [
        (root / "aletheia", 0o755),
        (server.env_dir, 0o700),
        (server.state_dir, 0o755),
        (server.releases_dir, 0o755),
        (root / "aletheia" / "static", 0o755),
        (server.nginx_dir, 0o755),
        (server.cert_dir, 0o755),
        (server.redis_acl_file.parent, 0o755),
        (server.backup_dir, 0o700),
        *[(server.backup_dir / name, 0o700) for name in names],
    ]
    for folder, mode in folders:
        if folder.is_dir():
            continue
        if not setup.runner.dry_run:
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(mode)
        setup.changed(f"created {folder} ({mode:o})", f"create {folder} ({mode:o})")


def write_settings_file(setup: Setup) -> None:
    """server.env, so every shell, sudo and cron job sees the same settings. Written once,
    from the settings given now as environment variables; kept as it is afterwards."""
    path = settings_file(setup.server.root)
    given = [
        (key, value)
        for key, value, origin in described(setup.server)
        if origin not in (DEFAULT, str(path)) and key != "ALETHEIA_SERVER_ROOT"
    ]
    if path.is_file():
        setup.kept(str(path))
        if given:
            names = ", ".join(key for key, _ in given)
            setup.by_hand.append(
                f"{names}: set in this shell, not in {path}; put them there so cron and sudo see them"
            )
        return
    lines = [
        "# Aletheia's server settings, read by every ops command",
        "# (docs/deployment/server-settings.md); an environment variable of the same name wins over this file.",
        f"ALETHEIA_NETWORK={setup.server.network}",
        *[f"{key}={value}" for key, value in given if key != "ALETHEIA_NETWORK"],
    ]
    if not setup.runner.dry_run:
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o644)
    said = f"{path} ({len(lines) - 2} setting(s))"
    setup.changed(f"wrote {said}", f"write {said}")


def web_port(server: ServerSettings, name: str) -> int:
    """Host networking: the matrix's Nth server environment listens on base + N."""
    position = list(environments.server_environments()).index(name) + 1
    return server.web_port_base + position


def render_env_file(server: ServerSettings, environment: environments.Environment) -> str:
    role = environment.database
    redis_user = isolation.redis_user(environment)
    port_lines = (
        "# host networking: this environment's web port on 127.0.0.1 (nginx's upstream),\n"
        f"# distinct per environment\nPORT={web_port(server, environment.name)}"
        if server.network == "host"
        else "# PORT: 8000 by default (each web has its own container)"
    )
    return (
        (TEMPLATES / f"{environment.name}.env")
        .read_text()
        .format(
            secret_key=secrets.token_urlsafe(50),
            database_url=f"postgres://{role}:{secrets.token_urlsafe(24)}@{server.pg_address}/{role}",
            redis_url=f"redis://{redis_user}:{secrets.token_urlsafe(32)}@{server.redis_address}",
            port_lines=port_lines,
        )
    )


def write_env_files(setup: Setup, names: list[str]) -> None:
    servers = environments.server_environments()
    for name in names:
        path = setup.server.root / servers[name].env_file
        if path.exists():
            setup.kept(str(path))
            continue
        if not setup.runner.dry_run:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
                out.write(render_env_file(setup.server, servers[name]))
        said = f"{path} (0600, generated secret key and passwords)"
        setup.changed(f"wrote {said}", f"write {said}")


def check_env_files(setup: Setup, targets: list[Target]) -> None:
    """What the env files still lack (the email keys), and clashing ports: by hand."""
    for env in targets:
        for problem in env.env_file.problems:
            setup.by_hand.append(problem)
        for warning in env.env_file.warnings:
            setup.by_hand.append(f"warning: {warning}")


def ssha(password: str) -> str:
    """An htpasswd line's hash nginx reads ({SSHA}: salted SHA-1), standard library only; the
    password is 24 random bytes, so SHA-1's weakness buys an attacker nothing."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 — nginx's {SSHA}
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def doctor_credentials(setup: Setup) -> None:
    """A user of nginx's basic auth for the doctor's requests (dev, staging), its password
    in doctor.credentials (0600), its hash in .htpasswd."""
    server = setup.server
    path, htpasswd = server.doctor_credentials, server.htpasswd
    lines = htpasswd.read_text().splitlines() if htpasswd.is_file() else []
    listed = any(line.startswith(f"{DOCTOR_USER}:") for line in lines)
    if path.is_file() and listed:
        setup.kept(f"{DOCTOR_USER} in {htpasswd}")
    elif not setup.runner.dry_run:
        password = secrets.token_urlsafe(24)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(f"{DOCTOR_USER}:{password}\n")
        kept = [line for line in lines if not line.startswith(f"{DOCTOR_USER}:")]
        htpasswd.parent.mkdir(parents=True, exist_ok=True)
        htpasswd.write_text("\n".join([*kept, f"{DOCTOR_USER}:{ssha(password)}"]) + "\n")
        htpasswd.chmod(0o644)  # nginx's worker reads it
        said = f"{DOCTOR_USER} to {htpasswd} (its password: {path})"
        setup.changed(f"added {said}", f"add {said}")
    else:
        setup.changed("", f"add {DOCTOR_USER} to {htpasswd} (its password: {path})")
    people = [line for line in lines if line.strip() and not line.startswith(f"{DOCTOR_USER}:")]
    if not people:
        setup.by_hand.append(
            f"basic auth (dev, staging): htpasswd {htpasswd} NAME (no -c: the file exists)"
        )


def postgres_existing(setup: Setup, targets: list[Target]) -> set[str]:
    """The environments whose role and database exist already (asked as the superuser)."""
    names = ",".join(isolation._literal(database_of(env)) for env in targets)
    query = (
        f"SELECT d.datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "  # noqa: S608
        f"WHERE d.datname IN ({names})"
    )
    result = setup.runner.run(
        [*setup.server.pg_admin, "--no-psqlrc", "-tA", "--dbname", "postgres", "-c", query],
        check=False,
        capture=True,
        mutating=False,
    )
    found = set(result.stdout.split()) if result.returncode == 0 else set()
    return {env.name for env in targets if database_of(env) in found}


def database_of(env: Target) -> str:
    """The database the env file names (the one `ops isolation` sets up)."""
    return backups.Database.from_url(env.env_file.get("DATABASE_URL")).name


def data_services(setup: Setup, targets: list[Target], apply: bool) -> None:
    """Each environment's PostgreSQL role and database, and the Redis ACL users: printed, or
    applied with --apply (ops isolation's own functions)."""
    ready = [
        env for env in targets if env.env_file.get("DATABASE_URL") and env.env_file.get("REDIS_URL")
    ]
    if not ready:
        return
    if not apply:
        isolation_setup.isolate(ready, setup.runner, apply=False)
        setup.by_hand.append(
            "the PostgreSQL roles and databases and the Redis ACL users above: "
            "make server-init APPLY=1 applies them (ALETHEIA_PG_ADMIN, ALETHEIA_REDIS_ADMIN)"
        )
        return
    existing = postgres_existing(setup, ready)
    acl = setup.server.redis_acl_file
    acl_before = acl.read_text() if acl.is_file() else None
    loaded = "loaded"
    try:
        isolation_setup.isolate(ready, setup.runner, apply=True)
    except Refusal as exc:  # Redis does not read the ACL file yet: the roles are made
        if not acl.is_file():
            raise
        loaded = "not loaded yet"
        setup.by_hand.append(f"{exc}; then make server-init APPLY=1 again (it loads the file)")
    for env in ready:
        database = database_of(env)
        if env.name in existing:
            setup.kept(f"PostgreSQL {database} (its role's password set from the env file)")
        else:
            said = f"PostgreSQL role and database {database}"
            setup.changed(f"created {said}", f"create {said}")
    if (acl.read_text() if acl.is_file() else None) != acl_before:
        said = f"the Redis ACL users into {acl}"
        setup.changed(f"wrote {said} ({loaded})", f"write {said}")
    else:
        setup.kept(f"the Redis ACL users in {acl} ({loaded})")


def nginx_and_certificates(setup: Setup, targets: list[Target]) -> None:
    server = setup.server
    include = f"include {server.nginx_dir}/*.conf;"
    if server.network == "host":
        setup.runner.say(f"    nginx's http block must hold: {include}")
        setup.by_hand.append(
            f"nginx (host), once if not done yet: e.g. echo '{include}' > /etc/nginx/conf.d/aletheia.conf; "
            f"then {shlex.join(server.nginx_test)} && {shlex.join(server.nginx_reload)}"
        )
    else:
        setup.runner.say(
            f"    nginx-proxy mounts {server.nginx_dir} as /etc/nginx/conf.d, "
            f"{server.root / 'nginx'} read-only at the same path, each static volume at "
            "/srv/aletheia-ENV-static (docs/deployment/first-time-setup.md)"
        )
    for env in targets:
        folder = server.cert_dir / host_name(env.environment)
        missing = [
            name for name in ("fullchain.pem", "privkey.pem") if not (folder / name).is_file()
        ]
        if missing:
            setup.by_hand.append(
                f"certificate of {host_name(env.environment)}: {folder}/fullchain.pem and "
                f"privkey.pem (until then {env.name} serves a 503 placeholder)"
            )
        else:
            setup.runner.say(f"    certificate of {host_name(env.environment)}: {folder}")


def server_init(server: ServerSettings, runner: Runner, names: list[str], apply: bool) -> Setup:
    setup = Setup(server, runner)
    with runner.step("folders"):
        make_folders(setup, names)
    with runner.step("server settings"):
        write_settings_file(setup)
    with runner.step("env files"):
        write_env_files(setup, names)
        targets = [target.resolve(name, server) for name in names]
        check_env_files(setup, targets)
    data_services(setup, targets, apply)  # its own steps: postgres: ENV…, redis ACL
    with runner.step("nginx"):
        doctor_credentials(setup)
        nginx_and_certificates(setup, targets)
    return setup


def summary(setup: Setup, names: list[str]) -> str:
    verb = "would change" if setup.runner.dry_run else "changed"
    lines = [
        f"server-init: {len(setup.changes)} thing(s) {verb}"
        if setup.changes
        else "server-init: nothing to change, everything was already in place"
    ]
    if setup.by_hand:
        lines.append("Left to do by hand:")
        lines += [f"  - {item}" for item in setup.by_hand]
    first = names[0] if names else "ENV"
    lines.append(
        f"Then: ./deploy.sh {first} (prod: a tag), and make doctor ENV={first} (every check PASS)"
    )
    return "\n".join(lines)
