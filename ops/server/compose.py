"""Compose files rendered from the environment matrix: the local override and one overlay per
server environment (`python3 -m ops generate` writes them; a test fails when they drift)."""

import re
from pathlib import Path

from ops.server.envfile import DEFAULT_PORT
from ops.server.environments import REPO_ROOT, Environment

GENERATED = "generated from environments.toml by\n# `python3 -m ops generate` (a test fails when this file and the matrix disagree)"


def app_environment(environment: Environment) -> dict[str, str]:
    """What the matrix decides for the app's containers. Set by the compose file, so it wins
    over the env file (ops warns about such keys in an env file)."""
    return {
        "ALETHEIA_ENV": environment.name,
        "ALETHEIA_HOST": environment.host,
        "DJANGO_SETTINGS_MODULE": environment.settings_module,
        "ALETHEIA_WEB_SERVER": environment.web_server,
        "ALETHEIA_EMAIL": environment.email,
        "ALETHEIA_SENTRY": "true" if environment.sentry else "false",
        "REDIS_CACHE_DB": str(environment.redis_cache_db),
        "REDIS_BROKER_DB": str(environment.redis_broker_db),
        "DOCTOLIB_RATE_PER_SECOND": f"{environment.doctolib_rate:g}",
    }


def _yaml_block(values: dict[str, str], indent: str = "  ") -> str:
    """Values YAML would read as numbers or booleans are quoted: Compose wants strings."""
    return "".join(
        f'{indent}{key}: "{value}"\n'
        if re.fullmatch(r"[\d.]+|true|false", value)
        else f"{indent}{key}: {value}\n"
        for key, value in values.items()
    )


OVERLAY_TEMPLATE = """\
# {name} server environment: {generated}.
# Image baked and tagged by git sha (ALETHEIA_IMAGE, set by deploy), env file from the server.
# How containers are networked is a server setting: ops adds docker-compose.{{shared,host}}-network.yml.
x-{name}-env: &{name}-env
{env_block}
x-{name}-app: &{name}-app
  image: ${{ALETHEIA_IMAGE:?ALETHEIA_IMAGE must name the image to run (aletheia:<git sha>)}}
  env_file:
    - ${{ALETHEIA_SERVER_ROOT:-/opt/docker}}/{env_file}
  environment: *{name}-env
  restart: unless-stopped

services:
  web:
    <<: *{name}-app
{memory_line}    volumes:
      - static:/app/staticfiles
  celery:
    <<: *{name}-app
  celery_beat:
    <<: *{name}-app
  manage:
    <<: *{name}-app
    volumes:
      - static:/app/staticfiles

volumes:
  static:
    name: aletheia-{name}-static   # nginx serves it (nginx-proxy: read-only at /srv/aletheia-{name}-static)
"""

OVERRIDE_TEMPLATE = """\
# Local development stack (auto-loaded by `docker compose up`): {generated}.
# Its own PostgreSQL and Redis; environment inline, nothing secret here.
x-local-env: &local-env
{env_block}  DATABASE_URL: postgres://aletheia:aletheia@db:5432/{database}
  REDIS_URL: redis://redis:6379

x-local-app: &local-app
  user: "${{ALETHEIA_UID:-1000}}:${{ALETHEIA_GID:-1000}}"
  environment: *local-env
{source_volume}  depends_on:
    db:
      condition: service_healthy
    redis:
      condition: service_healthy

services:
  web:
    <<: *local-app
    container_name: aletheia_web
{memory_line}    ports:
      - "{port}:{port}"
  celery:
    <<: *local-app
    container_name: aletheia_celery
  celery_beat:
    <<: *local-app
    container_name: aletheia_celery_beat
  db:
    image: postgres:15
    container_name: aletheia_db
    environment:
      POSTGRES_DB: {database}
      POSTGRES_USER: aletheia
      POSTGRES_PASSWORD: aletheia
    ports:
      - "5432:5432"
    volumes:
      - aletheia_db_data:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U aletheia -d {database}"]
      interval: 2s
      timeout: 3s
      retries: 30
  redis:
    image: redis:7
    container_name: aletheia_redis
    ports:
      - "6379:6379"
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 2s
      timeout: 3s
      retries: 30

volumes:
  aletheia_db_data:
"""


def path_of(environment: Environment) -> Path:
    """The compose file the matrix row's facts are written into (its last compose file)."""
    return REPO_ROOT / environment.compose_files[-1]


def _memory_line(environment: Environment) -> str:
    memory = environment.web_memory.lower()
    return f"    mem_limit: {memory}\n" if memory else ""


def render(environment: Environment) -> str:
    if not environment.is_server:
        return OVERRIDE_TEMPLATE.format(
            generated=GENERATED,
            env_block=_yaml_block(app_environment(environment)),
            database=environment.database,
            source_volume="  volumes:\n    - .:/app\n" if environment.source == "mounted" else "",
            memory_line=_memory_line(environment),
            port=environment.host.rpartition(":")[2] or str(DEFAULT_PORT),
        )
    return OVERLAY_TEMPLATE.format(
        name=environment.name,
        generated=GENERATED,
        env_block=_yaml_block(app_environment(environment)),
        env_file=environment.env_file,
        memory_line=_memory_line(environment),
    )
