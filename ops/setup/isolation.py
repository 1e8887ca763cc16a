"""What keeps the environments of one server apart in the shared PostgreSQL and Redis
(docs/deployment/security.md): one PostgreSQL role per environment owning only its
database, which nobody else may connect to; one Redis ACL user per environment restricted to
its own key prefix and channels, without the commands that reach beyond them.

Pure functions: they return the SQL and the ACL lines; `python3 -m ops isolation` prints or
applies them.
"""

import hashlib
import re

from ops.server.environments import Environment

# Never given to an environment: whole-server commands (FLUSHALL, FLUSHDB, KEYS, CONFIG,
# DEBUG, MONITOR, ACL, CLIENT KILL, SHUTDOWN… are @dangerous), and those that empty or
# replace every script or function of the server.
REDIS_DENIED = ("-@dangerous", "-@admin", "-script|flush", "-script|kill", "-function")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def redis_user(environment: Environment) -> str:
    return f"aletheia-{environment.name}"


def redis_key_prefix(environment: Environment) -> str:
    """Matches config.settings.base.redis_key_prefix (a test checks both agree)."""
    return f"aletheia-{environment.name}"


def password_digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def redis_acl_rule(environment: Environment, password: str) -> str:
    """One line of the server's Redis ACL file (`aclfile`): the environment's user, its
    password as a SHA-256 (the file never holds it), its keys and channels only."""
    prefix = redis_key_prefix(environment)
    digest = password_digest(password)
    # PSUBSCRIBE patterns are checked literally against the allowed ones: Celery's worker
    # subscribes to these two (remote control, and events for gossip) on its broker db.
    db = environment.redis_broker_db
    celery_patterns = [f"&{prefix}:/{db}.celery.pidbox", f"&{prefix}:/{db}.celeryev/worker.*"]
    return " ".join(
        [
            f"user {redis_user(environment)} on #{digest} resetkeys resetchannels",
            f"~{prefix}:* &{prefix}:*",
            *celery_patterns,
            "+@all",
            *REDIS_DENIED,
        ]
    )


def redis_acl_file(rules: list[str], admin_password: str) -> str:
    """The whole ACL file: the default user off, an admin for ops (ACL LOAD, backups of
    nothing else), then one user per environment."""
    admin = hashlib.sha256(admin_password.encode()).hexdigest()
    return (
        "\n".join(
            [
                "user default off resetkeys resetchannels -@all",
                f"user aletheia-admin on #{admin} ~* &* +@all",
                *rules,
            ]
        )
        + "\n"
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a plain PostgreSQL name (lowercase letters, digits, _)")
    return value


PASSWORD_VARIABLE = "role_password"  # noqa: S105 — a psql variable name: the SQL never holds the password


def postgres_setup_sql(database: str, role: str) -> str:
    """Idempotent SQL (psql, as a superuser, with `-v role_password=…`): the role (login, no
    superuser, no CREATEDB or CREATEROLE) and its password, the database it owns, and
    CONNECT/TEMP revoked from PUBLIC so no other environment's role can even connect."""
    db, user = _identifier(database), _identifier(role)
    # identifiers are checked above, literals quoted: nothing here comes unescaped
    return f"""\
SELECT format('CREATE ROLE %I LOGIN', {_literal(user)})
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(user)}) \\gexec
ALTER ROLE {user} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'{PASSWORD_VARIABLE}';
SELECT format('CREATE DATABASE %I OWNER %I', {_literal(db)}, {_literal(user)})
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = {_literal(db)}) \\gexec
ALTER DATABASE {db} OWNER TO {user};
REVOKE ALL ON DATABASE {db} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {user};
"""  # noqa: S608
