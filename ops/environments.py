"""The environment matrix, read from environments.toml (the single source of truth)."""

import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MATRIX_FILE = REPO_ROOT / "environments.toml"


@dataclass(frozen=True)
class Environment:
    name: str
    host: str
    compose_files: tuple[str, ...]
    env_file: str
    settings: str
    debug: bool
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
    default_ref: str = ""

    @property
    def settings_module(self) -> str:
        return f"config.settings.{self.settings}"

    @property
    def redis_cache_db(self) -> int:
        return self.redis_dbs[0]

    @property
    def redis_broker_db(self) -> int:
        return self.redis_dbs[1]

    @property
    def is_server(self) -> bool:
        return self.name != "local"


def load(path: Path = MATRIX_FILE) -> dict[str, Environment]:
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    return {
        name: Environment(
            name=name,
            **{
                **row,
                "compose_files": tuple(row["compose_files"]),
                "redis_dbs": tuple(row["redis_dbs"]),
            },
        )
        for name, row in raw.items()
    }


def server_environments(path: Path = MATRIX_FILE) -> dict[str, Environment]:
    return {name: e for name, e in load(path).items() if e.is_server}
