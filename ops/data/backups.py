"""Backups and restores of one environment's database (docs/deployment/backups.md).

A backup is three files in $BACKUP_DIR/ENV/: NAME.dump (pg_dump custom format), NAME.dump.sha256
(`sha256sum -c` reads it) and NAME.dump.json (which environment and database it came from, the
release that ran, why it was taken). A restore checks all three before touching anything, then
replaces the environment's schema in one transaction: it either lands whole or not at all.
"""

import getpass
import hashlib
import json
import re
import shutil
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ops.core import releases
from ops.core.runner import Refusal, Runner
from ops.server.environments import REPO_ROOT
from ops.server.settings import ServerSettings
from ops.server.target import Target

ANONYMISE_SQL = REPO_ROOT / "ops" / "sql" / "anonymise.sql"
MIB = 1 << 20


class BackupRefused(Refusal):
    """A backup or restore refused before anything changed."""


@dataclass(frozen=True)
class Database:
    """Where an environment's DATABASE_URL points."""

    name: str
    user: str
    password: str
    host: str
    port: str

    @classmethod
    def from_url(cls, url: str) -> "Database":
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql", "pgsql") or not parts.path.strip("/"):
            raise BackupRefused(
                f"DATABASE_URL is not a PostgreSQL database URL: {parts.scheme}://…"
            )
        return cls(
            name=urllib.parse.unquote(parts.path.strip("/")),
            user=urllib.parse.unquote(parts.username or "postgres"),
            password=urllib.parse.unquote(parts.password or ""),
            host=parts.hostname or "localhost",
            port=str(parts.port or 5432),
        )

    def connection_args(self) -> list[str]:
        return ["--host", self.host, "--port", self.port, "--username", self.user]


def pg_dump(settings: ServerSettings, database: Database) -> list[str]:
    return [
        *settings.pg_client,
        "pg_dump",
        "--format=custom",
        "--no-owner",
        "--no-acl",
        *database.connection_args(),
        "--dbname",
        database.name,
    ]


def pg_restore_to_sql(settings: ServerSettings) -> list[str]:
    """The dump (on stdin) as SQL (on stdout), objects owned by whoever runs it."""
    return [*settings.pg_client, "pg_restore", "--no-owner", "--no-acl", "--file", "-"]


def psql(settings: ServerSettings, database: Database, *args: str) -> list[str]:
    return [
        *settings.pg_client,
        "psql",
        "--no-psqlrc",
        "--quiet",
        "--output",
        "/dev/null",  # the restore's query results (set_config, setval); errors stay on stderr
        "-v",
        "ON_ERROR_STOP=1",
        *database.connection_args(),
        "--dbname",
        database.name,
        *args,
    ]


# The restore runs inside one explicit transaction ending with our COMMIT: a dump cut short,
# a failing statement or a killed restore leaves the transaction open and PostgreSQL rolls it
# back, so the environment keeps its data. (psql --single-transaction would COMMIT at EOF.)
RESTORE_PREAMBLE = b"BEGIN;\nSET client_min_messages = warning;\nDROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n"
RESTORE_COMMIT = b"\nCOMMIT;\n"


def directory(settings: ServerSettings, name: str) -> Path:
    return settings.backup_dir / name


def sidecars(dump: Path) -> tuple[Path, Path]:
    return dump.with_name(dump.name + ".sha256"), dump.with_name(dump.name + ".json")


def human(size: float) -> str:
    if size < 1024:
        return f"{int(size)} B"
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"


def dumps(settings: ServerSettings, name: str) -> list[Path]:
    """The environment's backups, oldest first (the names sort by time)."""
    return sorted(directory(settings, name).glob(f"aletheia-{name}-*.dump"))


def list_backups(settings: ServerSettings, name: str) -> list[tuple[Path, dict[str, object]]]:
    """The environment's backups, oldest first, with their manifests."""
    found = []
    for dump in dumps(settings, name):
        manifest = sidecars(dump)[1]
        found.append((dump, json.loads(manifest.read_text()) if manifest.exists() else {}))
    return found


def to_prune(
    backups: list[tuple[Path, float]], keep: int, max_age_days: int, now: float
) -> list[Path]:
    """Retention: at most `keep` backups, none older than `max_age_days`, never the newest."""
    ordered = sorted(backups, key=lambda item: item[1], reverse=True)
    doomed = [path for path, _ in ordered[max(keep, 1) :]]
    doomed += [
        path for path, created in ordered[1 : max(keep, 1)] if now - created > max_age_days * 86400
    ]
    return doomed


def prune(settings: ServerSettings, runner: Runner, name: str, spare: Path | None) -> None:
    """Apply the retention to the environment's backups, sparing `spare` (being restored)."""
    dated = [
        (dump, dump.stat().st_mtime)
        for dump in dumps(settings, name)
        if spare is None or dump.resolve() != spare.resolve()
    ]
    for dump in to_prune(dated, settings.backup_keep, settings.backup_max_age_days, time.time()):
        runner.say(f"    retention: {'would delete' if runner.dry_run else 'deleting'} {dump.name}")
        if not runner.dry_run:
            for path in (dump, *sidecars(dump)):
                path.unlink(missing_ok=True)


STALE_PARTIAL_SECONDS = 6 * 3600


def sweep_partials(folder: Path, runner: Runner) -> None:
    """`.partial` files left by a backup that was killed (none is written for hours)."""
    for partial in folder.glob("*.partial"):
        if time.time() - partial.stat().st_mtime > STALE_PARTIAL_SECONDS:
            verb = "would remove" if runner.dry_run else "removing"
            runner.say(f"    {verb} {partial.name}, left by a backup that did not finish")
            if not runner.dry_run:
                partial.unlink(missing_ok=True)


def free_space_needed(last: Path | None) -> int:
    """Room for one more backup: twice the last one, and at least 100 MiB."""
    return max(2 * last.stat().st_size if last else 0, 100 * MIB)


def backup(target: Target, runner: Runner, reason: str, spare: Path | None = None) -> Path:
    """pg_dump the environment's database into its backup directory, then apply the retention
    (never to `spare`); returns the dump's path."""
    name, settings = target.name, target.server
    database = Database.from_url(target.env_file.get("DATABASE_URL"))
    target_dir = directory(settings, name)
    now = time.time()  # to the millisecond: a safety backup may follow a backup closely
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    dump = target_dir / f"aletheia-{name}-{stamp}.dump"
    checksum, manifest = sidecars(dump)
    if not runner.dry_run:
        target_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        target_dir.chmod(0o700)  # also when it existed with a looser mode
        sweep_partials(target_dir, runner)
        previous = dumps(settings, name)
        free = shutil.disk_usage(target_dir).free
        needed = free_space_needed(previous[-1] if previous else None)
        if free < needed:
            raise BackupRefused(
                f"only {human(free)} free in {target_dir}; a backup of {name} needs {human(needed)}"
            )
        if dump.exists():
            raise BackupRefused(f"{dump} already exists")
    partial = dump.with_name(dump.name + ".partial")
    runner.env["PGPASSWORD"] = database.password
    started = time.monotonic()
    try:
        size, digest = runner.stream(pg_dump(settings, database), sink=partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if runner.dry_run:
        runner.say(f"    would write {dump} (+ .sha256, .json)")
        return dump
    partial.chmod(0o600)
    partial.rename(dump)
    checksum.write_text(f"{digest}  {dump.name}\n")
    checksum.chmod(0o600)
    current = releases.current(settings.state_dir, name) or {}
    manifest.write_text(
        json.dumps(
            {
                "environment": name,
                "database": database.name,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "bytes": size,
                "seconds": round(time.monotonic() - started, 1),
                "release": current.get("sha", ""),
                "ref": current.get("ref", ""),
                "reason": reason,
                "who": getpass.getuser(),
            },
            indent=2,
        )
        + "\n"
    )
    manifest.chmod(0o600)
    runner.say(f"    {dump} ({human(size)}, sha256 {digest[:16]}…)")
    prune(settings, runner, name, spare)
    return dump


def find(settings: ServerSettings, name: str, file: str) -> Path:
    """FILE as given, or by name in the environments' backup directories."""
    given = Path(file)
    if given.is_file():
        return given.resolve()
    elsewhere = sorted(settings.backup_dir.glob(f"*/{given.name}"))
    for candidate in [directory(settings, name) / given.name, *elsewhere]:
        if candidate.is_file():
            return candidate
    raise BackupRefused(f"no backup file {file!r} (nor in {settings.backup_dir}/*/)")


def sha256_of(path: Path, runner: Runner) -> str:
    digest, done, size = hashlib.sha256(), 0, path.stat().st_size
    last_report = time.monotonic()
    with path.open("rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
            done += len(chunk)
            if time.monotonic() - last_report >= 2:
                last_report = time.monotonic()
                runner.say(f"    … checksum {done * 100 // max(size, 1)} %")
    return digest.hexdigest()


def verify(dump: Path, runner: Runner) -> dict[str, object]:
    """The manifest of a backup whose checksum matches; refused otherwise."""
    checksum, manifest = sidecars(dump)
    if not checksum.exists():
        raise BackupRefused(f"{checksum} is missing: cannot verify {dump.name}")
    expected = checksum.read_text().split()[0] if checksum.read_text().split() else ""
    actual = sha256_of(dump, runner)
    if actual != expected:
        raise BackupRefused(
            f"{dump.name} is corrupted: sha256 {actual[:16]}… but {checksum.name} says {expected[:16]}…"
        )
    if not manifest.exists():
        raise BackupRefused(
            f"{manifest} is missing: cannot tell which environment made {dump.name}"
        )
    return dict(json.loads(manifest.read_text()))


def pg_restore_list(settings: ServerSettings) -> list[str]:
    """The dump's table of contents (on stdin): its header names the database it was made of."""
    return [*settings.pg_client, "pg_restore", "--list"]


def dumped_database(dump: Path, settings: ServerSettings, runner: Runner) -> str:
    """The name of the database `dump` was made of, read from the dump itself."""
    with tempfile.TemporaryDirectory(prefix="aletheia-toc-") as workdir:
        listing = Path(workdir, "toc.txt")
        runner.stream(pg_restore_list(settings), source=dump, sink=listing)
        if runner.dry_run:
            return ""
        found = re.search(r"^;\s+dbname: (.+)$", listing.read_text(errors="replace"), re.M)
    if not found:
        raise BackupRefused(f"{dump.name} does not name the database it was made of")
    return found.group(1).strip()


def origin(dump: Path, manifest: dict[str, object], databases: dict[str, str], dumped: str) -> str:
    """The environment whose database the dump holds. The manifest is an editable file: it
    must agree with the dump, and the dump's database must be one of this server's."""
    if dumped != manifest.get("database"):
        raise BackupRefused(
            f"{dump.name} holds the database {dumped!r}, but its manifest says "
            f"{manifest.get('database')!r}: the manifest was edited or belongs to another dump"
        )
    owners = [name for name, database in databases.items() if database == dumped]
    if not owners:
        raise BackupRefused(
            f"{dump.name} holds {dumped!r}, which is no environment's database here"
        )
    if manifest.get("environment") not in owners:
        raise BackupRefused(
            f"{dump.name} holds {owners[0]}'s database {dumped!r}, but its manifest says "
            f"{manifest.get('environment')!r}"
        )
    return owners[0]


def check_confirmation(target: str, confirm: str | None) -> None:
    if target == "prod" and confirm != "prod":
        raise BackupRefused(
            "restoring into prod replaces production's data: add --confirm prod (make … CONFIRM=prod)"
        )


def check_origin(target: str, source: str, from_env: str | None) -> None:
    if source != target and from_env != source:
        raise BackupRefused(
            f"this backup was made from {source}, not {target}: add --from-env {source} "
            f"(make … FROM_ENV={source}) to restore it into {target}"
        )


def needs_anonymising(source: str, target: str) -> bool:
    """Production data leaves production only anonymised."""
    return source == "prod" and target != "prod"


def restore_sql_trailer(anonymise: bool) -> bytes:
    body = ANONYMISE_SQL.read_bytes() if anonymise else b""
    return b"\n" + body + RESTORE_COMMIT


def record(settings: ServerSettings, name: str, entry: dict[str, object]) -> None:
    releases.record(settings.state_dir, name, entry, log="restores")
