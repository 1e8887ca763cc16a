"""The environment matrix, read from environments.toml (the single source of truth).

What each key feeds:

| key | feeds |
|---|---|
| host | compose files (ALETHEIA_HOST: ALLOWED_HOSTS, CSRF origins), nginx server_name and certificate path |
| compose_files | every compose command ops builds (ops/steps/commands.py) |
| env_file | where ops and the overlay read the environment's secrets |
| settings | compose files (DJANGO_SETTINGS_MODULE); DEBUG follows from it (development: on) |
| web_server | compose files (ALETHEIA_WEB_SERVER, read by docker/start) |
| source | compose files: `mounted` binds the working tree on /app, `baked` runs the image's code |
| database | the local compose database; doctor warns when a server's DATABASE_URL names another |
| redis_dbs | compose files (REDIS_CACHE_DB, REDIS_BROKER_DB) |
| email | compose files (ALETHEIA_EMAIL) and the env-file check (BREVO_API_KEY / EMAIL_URL) |
| sentry | compose files (ALETHEIA_SENTRY: production settings start Sentry when on and SENTRY_DSN is set) |
| proxy_auth, rate_limited | nginx configs |
| web_memory | compose files (the web container's mem_limit) |
| refs, default_ref | which refs a deploy accepts (ops/release/refs.py) |
| doctolib_rate | compose files (DOCTOLIB_RATE_PER_SECOND): the environment's share of `doctolib_budget_per_second`, the server's one Doctolib budget |
| backup_before_deploy | the deploy's backup step |
| runtime | how the app runs: `compose` (one server, ops/runtimes/app.py's switch) or `swarm` (a Docker Swarm stack, ops/runtimes/swarm.py) |
| web_replicas, worker_replicas | swarm only: the stack's replicas of web (2 or more) and of the worker (ops/runtimes/stack.py); beat is always one |

Every key also feeds the generated environments table of docs/deployment.md.
"""

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MATRIX_FILE = REPO_ROOT / "environments.toml"


class MatrixError(ValueError):
    """environments.toml says something no environment can be."""


@dataclass(frozen=True)
class Environment:
    name: str
    host: str
    compose_files: tuple[str, ...]
    env_file: str
    settings: str
    web_server: str
    source: str
    database: str
    redis_dbs: tuple[int, int]
    email: str
    sentry: bool
    proxy_auth: str
    rate_limited: bool
    web_memory: str
    refs: str
    backup_before_deploy: bool
    doctolib_rate: float
    default_ref: str = ""
    runtime: str = "compose"
    web_replicas: int = 0  # swarm only (0 elsewhere)
    worker_replicas: int = 0  # swarm only (0 elsewhere)

    @property
    def settings_module(self) -> str:
        return f"config.settings.{self.settings}"

    @property
    def debug(self) -> bool:
        return self.settings == "development"

    @property
    def redis_cache_db(self) -> int:
        return self.redis_dbs[0]

    @property
    def redis_broker_db(self) -> int:
        return self.redis_dbs[1]

    @property
    def is_server(self) -> bool:
        return self.name != "local"

    @property
    def on_swarm(self) -> bool:
        return self.runtime == "swarm"


ALLOWED = {
    "settings": {"development", "production"},
    "web_server": {"runserver", "gunicorn"},
    "source": {"mounted", "baked"},
    "email": {"console", "brevo", "smtp"},
    "proxy_auth": {"none", "basic"},
    "refs": {"working-tree", "branch", "tag"},
    "runtime": {"compose", "swarm"},
}
# Fewer than two web replicas and a rolling update has nothing serving while one is replaced.
MIN_SWARM_WEB_REPLICAS = 2


def problems(environment: Environment) -> list[str]:
    """What no environment can be: each value where only some are possible."""
    found = [
        f"{key} = {getattr(environment, key)!r} is not one of {sorted(values)}"
        for key, values in ALLOWED.items()
        if getattr(environment, key) not in values
    ]
    if environment.settings == "development" and (
        environment.email != "console" or environment.sentry
    ):
        found.append("development settings send email to the console only and never start Sentry")
    if environment.is_server and environment.source != "baked":
        found.append('a server runs the image\'s code: source = "baked"')
    if environment.is_server and not environment.env_file:
        found.append("a server environment needs an env_file")
    if environment.refs == "branch" and not environment.default_ref:
        found.append('refs = "branch" needs a default_ref')
    found += _runtime_problems(environment)
    return found


def _runtime_problems(environment: Environment) -> list[str]:
    if not environment.on_swarm:
        if environment.web_replicas or environment.worker_replicas:
            return ['web_replicas and worker_replicas are for runtime = "swarm" only']
        return []
    found = []
    if not environment.is_server:
        found.append('the local stack runs with docker compose: runtime = "compose"')
    if environment.web_replicas < MIN_SWARM_WEB_REPLICAS:
        found.append(
            f'runtime = "swarm" needs web_replicas >= {MIN_SWARM_WEB_REPLICAS} (one keeps '
            "serving while another is replaced)"
        )
    if environment.worker_replicas < 1:
        found.append('runtime = "swarm" needs worker_replicas >= 1')
    return found


def load(path: Path = MATRIX_FILE) -> dict[str, Environment]:
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    budget = float(raw.pop("doctolib_budget_per_second"))
    known = {f.name for f in fields(Environment)} - {"name"}
    matrix = {}
    for name, row in raw.items():
        unknown = sorted(set(row) - known)
        if unknown:
            raise MatrixError(f"{path.name} [{name}]: unknown key(s) {', '.join(unknown)}")
        environment = Environment(
            name=name,
            **{
                **row,
                "compose_files": tuple(row["compose_files"]),
                "redis_dbs": tuple(row["redis_dbs"]),
            },
        )
        wrong = problems(environment)
        if wrong:
            raise MatrixError(f"{path.name} [{name}]: {'; '.join(wrong)}")
        matrix[name] = environment
    spent = sum(e.doctolib_rate for e in matrix.values() if e.is_server)
    if spent > budget:
        raise MatrixError(
            f"{path.name}: the server environments' doctolib_rate add up to {spent:g} requests/s, "
            f"over doctolib_budget_per_second = {budget:g}"
        )
    return matrix


def server_environments(path: Path = MATRIX_FILE) -> dict[str, Environment]:
    return {name: e for name, e in load(path).items() if e.is_server}
