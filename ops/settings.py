"""Server settings: where things are on the server and how to drive docker, compose and nginx.

All of them come from environment variables so the same code runs on the real server and in
the end-to-end tests (see docs/deployment.md, "Server settings").
"""

import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from ops.envfile import DEFAULT_PORT


def _default_compose(docker: str) -> list[str]:
    if shutil.which("docker-compose") and not _has_compose_plugin(docker):
        return ["docker-compose"]
    return [docker, "compose"]


def _has_compose_plugin(docker: str) -> bool:
    plugin_dirs = [
        "/usr/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
        os.path.expanduser("~/.docker/cli-plugins"),
    ]
    return any(Path(d, "docker-compose").exists() for d in plugin_dirs)


@dataclass(frozen=True)
class ServerSettings:
    root: Path  # ALETHEIA_SERVER_ROOT (/opt/docker)
    checkout: Path  # the git checkout deploys fetch into (never checked out to a ref)
    docker: str
    compose: tuple[str, ...]
    network: str  # "shared" (docker network) or "host" (host processes, loopback ports)
    nginx_test: tuple[str, ...]
    nginx_reload: tuple[str, ...]
    upstream: str  # how nginx reaches an env's web: pattern with {env}, {port} and {slot}
    static_dir: str  # where nginx sees an env's static files: pattern with {env}
    ca_bundle: str  # CA bundle for builds behind a TLS-intercepting proxy ("" = none)
    build_network: str  # docker build --network ("" = default)
    health_timeout: float
    pg_client: tuple[str, ...]  # prefix that runs pg_dump/pg_restore/psql ("" = on this host)
    backup_dir: Path
    backup_keep: int  # newest backups kept per environment
    backup_max_age_days: int  # older ones are deleted (the newest one never is)
    images_keep: int  # images kept per environment (its last N successful releases)
    pg_admin: tuple[str, ...]  # psql as a superuser (first-time setup: roles and databases)
    redis_admin: tuple[str, ...]  # redis-cli as the ACL admin (REDISCLI_AUTH holds its password)

    @property
    def env_dir(self) -> Path:
        return self.root / "aletheia" / "envs"

    @property
    def nginx_dir(self) -> Path:
        return self.root / "nginx" / "conf.d"

    @property
    def htpasswd(self) -> Path:
        return self.root / "nginx" / ".htpasswd"

    @property
    def cert_dir(self) -> Path:
        return self.root / "nginx" / "certs"

    @property
    def redis_acl_file(self) -> Path:
        """The shared Redis's `aclfile`: one user per environment, passwords as SHA-256."""
        return self.root / "redis" / "users.acl"

    @property
    def redis_admin_password_file(self) -> Path:
        return self.root / "aletheia" / "redis-admin.password"

    @property
    def releases_dir(self) -> Path:
        """One folder per release: the compose files of its commit."""
        return self.root / "aletheia" / "releases"

    @property
    def state_dir(self) -> Path:
        return self.root / "aletheia" / "state"

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> "ServerSettings":
        env = dict(os.environ if environ is None else environ)
        root = Path(env.get("ALETHEIA_SERVER_ROOT", "/opt/docker"))
        docker = env.get("ALETHEIA_DOCKER", "docker")
        network = env.get("ALETHEIA_NETWORK", "shared")
        default_upstream = (
            "127.0.0.1:{port}"
            if network == "host"
            else f"aletheia-{{env}}-web-{{slot}}:{DEFAULT_PORT}"
        )
        default_static = (
            "/var/lib/docker/volumes/aletheia-{env}-static/_data"
            if network == "host"
            else "/srv/aletheia-{env}-static"
        )
        default_pg_admin = (
            "psql --host 127.0.0.1 --username postgres"
            if network == "host"
            else "docker exec -i shared_postgres psql --username postgres"
        )
        default_redis_admin = (
            "redis-cli -h 127.0.0.1 --user aletheia-admin"
            if network == "host"
            else "docker exec -i -e REDISCLI_AUTH shared_redis redis-cli --user aletheia-admin"
        )
        return cls(
            root=root,
            checkout=Path(env.get("ALETHEIA_CHECKOUT", str(root / "aletheia" / "repo"))),
            docker=docker,
            compose=tuple(shlex.split(env["ALETHEIA_COMPOSE"]))
            if env.get("ALETHEIA_COMPOSE")
            else tuple(_default_compose(docker)),
            network=network,
            nginx_test=tuple(
                shlex.split(env.get("ALETHEIA_NGINX_TEST", "docker exec nginx-proxy nginx -t"))
            ),
            nginx_reload=tuple(
                shlex.split(
                    env.get("ALETHEIA_NGINX_RELOAD", "docker exec nginx-proxy nginx -s reload")
                )
            ),
            upstream=env.get("ALETHEIA_UPSTREAM", default_upstream),
            static_dir=env.get("ALETHEIA_STATIC_DIR", default_static),
            ca_bundle=env.get("ALETHEIA_BUILD_CA_BUNDLE", ""),
            build_network=env.get("ALETHEIA_BUILD_NETWORK", ""),
            health_timeout=float(env.get("ALETHEIA_HEALTH_TIMEOUT", "60")),
            pg_client=tuple(
                shlex.split(
                    env.get("ALETHEIA_PG_CLIENT", "docker exec -i -e PGPASSWORD shared_postgres")
                )
            ),
            backup_dir=Path(env.get("ALETHEIA_BACKUP_DIR", str(root / "backups"))),
            backup_keep=int(env.get("ALETHEIA_BACKUP_KEEP", "10")),
            backup_max_age_days=int(env.get("ALETHEIA_BACKUP_MAX_AGE_DAYS", "30")),
            images_keep=int(env.get("ALETHEIA_IMAGES_KEEP", "5")),
            pg_admin=tuple(shlex.split(env.get("ALETHEIA_PG_ADMIN", default_pg_admin))),
            redis_admin=tuple(shlex.split(env.get("ALETHEIA_REDIS_ADMIN", default_redis_admin))),
        )
