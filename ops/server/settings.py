"""Server settings: where things are on the server and how to drive docker, compose and nginx.

They live in one file on the server, `$ALETHEIA_SERVER_ROOT/aletheia/server.env` (KEY=value
lines), read by every ops command; an environment variable of the same name wins over the
file, and `make doctor` says where each value came from (docs/deployment/server-settings.md).
The same code runs on the real server and in the end-to-end tests.
"""

import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from ops.server import envfile
from ops.server.envfile import DEFAULT_PORT

DEFAULT_ROOT = "/opt/docker"
# Every setting ops reads (docs/deployment/server-settings.md has the table).
KNOWN = (
    "ALETHEIA_SERVER_ROOT",
    "ALETHEIA_CHECKOUT",
    "ALETHEIA_DOCKER",
    "ALETHEIA_COMPOSE",
    "ALETHEIA_NETWORK",
    "ALETHEIA_UPSTREAM",
    "ALETHEIA_STATIC_DIR",
    "ALETHEIA_NGINX_TEST",
    "ALETHEIA_NGINX_RELOAD",
    "ALETHEIA_NGINX_ADDRESS",
    "ALETHEIA_NGINX_HTTP_PORT",
    "ALETHEIA_NGINX_HTTPS_PORT",
    "ALETHEIA_BUILD_CA_BUNDLE",
    "ALETHEIA_BUILD_NETWORK",
    "ALETHEIA_HEALTH_TIMEOUT",
    "ALETHEIA_PG_CLIENT",
    "ALETHEIA_PG_ADDRESS",
    "ALETHEIA_REDIS_ADDRESS",
    "ALETHEIA_WEB_PORT_BASE",
    "ALETHEIA_BACKUP_DIR",
    "ALETHEIA_BACKUP_KEEP",
    "ALETHEIA_BACKUP_MAX_AGE_DAYS",
    "ALETHEIA_IMAGES_KEEP",
    "ALETHEIA_PG_ADMIN",
    "ALETHEIA_REDIS_ADMIN",
    "ALETHEIA_DRAIN_SECONDS",
    "ALETHEIA_SETTLE_SECONDS",
    "ALETHEIA_DEPLOY_STRATEGY",
    "ALETHEIA_SWARM_NETWORK",
    "ALETHEIA_REGISTRY",
)
ENVIRONMENT, DEFAULT = "environment", "default"


def settings_file(root: Path) -> Path:
    return root / "aletheia" / "server.env"


def gather(environ: dict[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """The settings given (server.env, then the environment over it) and where each came
    from: the file's path or "environment". ALETHEIA_SERVER_ROOT says where the file is, so
    it comes from the environment only."""
    env = dict(os.environ if environ is None else environ)
    root = Path(env.get("ALETHEIA_SERVER_ROOT") or DEFAULT_ROOT)
    path = settings_file(root)
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    if path.is_file():
        for key, value in envfile.parse(path.read_text()).items():
            if key in KNOWN and key != "ALETHEIA_SERVER_ROOT":
                values[key], origins[key] = value, str(path)
    for key in KNOWN:
        if key in env:
            values[key], origins[key] = env[key], ENVIRONMENT
    return values, origins


def unknown_keys(root: Path) -> list[str]:
    """Keys of server.env ops does not read (a typo would otherwise go unnoticed)."""
    path = settings_file(root)
    if not path.is_file():
        return []
    return sorted(key for key in envfile.parse(path.read_text()) if key not in KNOWN)


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
    drain_seconds: int  # the old slot's gunicorn finishes in-flight requests within this
    settle_seconds: float  # between nginx's reload and the old slot's SIGTERM
    deploy_strategy: str  # "switch" (two slots) or "recreate" (in place)
    pg_admin: tuple[str, ...]  # psql as a superuser (first-time setup: roles and databases)
    redis_admin: tuple[str, ...]  # redis-cli as the ACL admin (REDISCLI_AUTH holds its password)
    nginx_address: str = "127.0.0.1"  # where this host reaches nginx (the doctor's requests)
    nginx_http_port: int = 80
    nginx_https_port: int = 443
    pg_address: str = "shared_postgres:5432"  # the env files' DATABASE_URL host (first-time setup)
    redis_address: str = "shared_redis:6379"  # the env files' REDIS_URL host (first-time setup)
    web_port_base: int = 8100  # host networking: env N of the matrix listens on base + N
    swarm_network: str = "aletheia-swarm"  # runtime = swarm: the attachable overlay network
    registry: str = ""  # runtime = swarm on more than one node: where the other nodes pull from
    origins: tuple[tuple[str, str], ...] = ()  # (setting, where its value came from)

    def origin(self, key: str) -> str:
        return dict(self.origins).get(key, DEFAULT)

    def static_host_dir(self, name: str) -> str:
        """Host networking: the directory an environment's static files are bound to, the one
        nginx (a host process) serves. Shared: nginx-proxy's mount of the static volume."""
        return self.static_dir.format(env=name)

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
    def doctor_credentials(self) -> Path:
        """user:password the doctor sends through nginx's basic auth (dev, staging)."""
        return self.root / "aletheia" / "doctor.credentials"

    @property
    def releases_dir(self) -> Path:
        """One folder per release: the compose files of its commit."""
        return self.root / "aletheia" / "releases"

    @property
    def state_dir(self) -> Path:
        return self.root / "aletheia" / "state"

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> "ServerSettings":
        """server.env, the environment over it (environ: instead of os.environ)."""
        env, origins = gather(environ)
        root = Path(env.get("ALETHEIA_SERVER_ROOT") or DEFAULT_ROOT)
        docker = env.get("ALETHEIA_DOCKER", "docker")
        network = env.get("ALETHEIA_NETWORK", "shared")
        host = network == "host"
        pg_address = env.get(
            "ALETHEIA_PG_ADDRESS", "127.0.0.1:5432" if host else "shared_postgres:5432"
        )
        redis_address = env.get(
            "ALETHEIA_REDIS_ADDRESS", "127.0.0.1:6379" if host else "shared_redis:6379"
        )
        pg_host, _, pg_port = pg_address.rpartition(":")
        redis_host, _, redis_port = redis_address.rpartition(":")
        default_upstream = (
            "127.0.0.1:{port}" if host else f"aletheia-{{env}}-web-{{slot}}:{DEFAULT_PORT}"
        )
        # host networking: a directory the static volume is bound to, readable by nginx's
        # worker (Docker's own volume directory is not); shared: nginx-proxy's read-only mount
        default_static = f"{root}/aletheia/static/{{env}}" if host else "/srv/aletheia-{env}-static"
        default_pg_admin = (
            f"psql --host {pg_host} --port {pg_port} --username postgres"
            if host
            else "docker exec -i shared_postgres psql --username postgres"
        )
        default_redis_admin = (
            f"redis-cli -h {redis_host} -p {redis_port} --user aletheia-admin"
            if host
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
            drain_seconds=int(env.get("ALETHEIA_DRAIN_SECONDS", "30")),
            swarm_network=env.get("ALETHEIA_SWARM_NETWORK", "aletheia-swarm"),
            registry=env.get("ALETHEIA_REGISTRY", ""),
            settle_seconds=float(env.get("ALETHEIA_SETTLE_SECONDS", "2")),
            deploy_strategy=env.get("ALETHEIA_DEPLOY_STRATEGY", "switch"),
            pg_admin=tuple(shlex.split(env.get("ALETHEIA_PG_ADMIN", default_pg_admin))),
            redis_admin=tuple(shlex.split(env.get("ALETHEIA_REDIS_ADMIN", default_redis_admin))),
            nginx_address=env.get("ALETHEIA_NGINX_ADDRESS", "127.0.0.1"),
            nginx_http_port=int(env.get("ALETHEIA_NGINX_HTTP_PORT", "80")),
            nginx_https_port=int(env.get("ALETHEIA_NGINX_HTTPS_PORT", "443")),
            pg_address=pg_address,
            redis_address=redis_address,
            web_port_base=int(env.get("ALETHEIA_WEB_PORT_BASE", "8100")),
            origins=tuple(sorted(origins.items())),
        )


def described(settings: ServerSettings) -> list[tuple[str, str, str]]:
    """(setting, value in effect, where it came from) for each setting: `make doctor`."""
    values = {
        "ALETHEIA_SERVER_ROOT": str(settings.root),
        "ALETHEIA_CHECKOUT": str(settings.checkout),
        "ALETHEIA_DOCKER": settings.docker,
        "ALETHEIA_COMPOSE": shlex.join(settings.compose),
        "ALETHEIA_NETWORK": settings.network,
        "ALETHEIA_UPSTREAM": settings.upstream,
        "ALETHEIA_STATIC_DIR": settings.static_dir,
        "ALETHEIA_NGINX_TEST": shlex.join(settings.nginx_test),
        "ALETHEIA_NGINX_RELOAD": shlex.join(settings.nginx_reload),
        "ALETHEIA_NGINX_ADDRESS": settings.nginx_address,
        "ALETHEIA_NGINX_HTTP_PORT": str(settings.nginx_http_port),
        "ALETHEIA_NGINX_HTTPS_PORT": str(settings.nginx_https_port),
        "ALETHEIA_BUILD_CA_BUNDLE": settings.ca_bundle,
        "ALETHEIA_BUILD_NETWORK": settings.build_network,
        "ALETHEIA_HEALTH_TIMEOUT": f"{settings.health_timeout:g}",
        "ALETHEIA_PG_CLIENT": shlex.join(settings.pg_client),
        "ALETHEIA_PG_ADDRESS": settings.pg_address,
        "ALETHEIA_REDIS_ADDRESS": settings.redis_address,
        "ALETHEIA_WEB_PORT_BASE": str(settings.web_port_base),
        "ALETHEIA_BACKUP_DIR": str(settings.backup_dir),
        "ALETHEIA_BACKUP_KEEP": str(settings.backup_keep),
        "ALETHEIA_BACKUP_MAX_AGE_DAYS": str(settings.backup_max_age_days),
        "ALETHEIA_IMAGES_KEEP": str(settings.images_keep),
        "ALETHEIA_PG_ADMIN": shlex.join(settings.pg_admin),
        "ALETHEIA_REDIS_ADMIN": shlex.join(settings.redis_admin),
        "ALETHEIA_DRAIN_SECONDS": str(settings.drain_seconds),
        "ALETHEIA_SETTLE_SECONDS": f"{settings.settle_seconds:g}",
        "ALETHEIA_DEPLOY_STRATEGY": settings.deploy_strategy,
        "ALETHEIA_SWARM_NETWORK": settings.swarm_network,
        "ALETHEIA_REGISTRY": settings.registry,
    }
    return [(key, values[key], settings.origin(key)) for key in KNOWN]


def settings_report(settings: ServerSettings) -> str:
    """Where each server setting came from, as `make doctor` prints it."""
    path = settings_file(settings.root)
    said = path if path.is_file() else f"{path} (missing: make server-init writes it)"
    rows = described(settings)
    width = max(len(key) for key, _, _ in rows)
    lines = [f"server settings: {said}; an environment variable wins over it"]
    lines += [
        f"  {key:<{width}}  {origin if origin in (DEFAULT, ENVIRONMENT) else 'server.env':<11}  {value or '(empty)'}"
        for key, value, origin in rows
    ]
    lines += [
        f"  warning: {key} in {path.name} is no setting ops reads"
        for key in unknown_keys(settings.root)
    ]
    return "\n".join(lines)
