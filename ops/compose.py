"""Compose overlays for the server environments, rendered from the environment matrix."""

from pathlib import Path

from ops.environments import REPO_ROOT, Environment

OVERLAY_TEMPLATE = """\
# {name} server environment: generated from environments.toml by `python3 -m ops compose-overlays`
# (a test fails when this file and the matrix disagree). Image baked and tagged by git sha
# (ALETHEIA_IMAGE, set by deploy), gunicorn, env file from the server. How containers are
# networked is a server setting: ops adds docker-compose.{{shared,host}}-network.yml.
x-{name}-env: &{name}-env
  ALETHEIA_ENV: {name}
  ALETHEIA_HOST: {host}
  DJANGO_SETTINGS_MODULE: {settings_module}
  REDIS_CACHE_DB: "{cache_db}"
  REDIS_BROKER_DB: "{broker_db}"

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


def overlay_path(environment: Environment) -> Path:
    return REPO_ROOT / f"docker-compose.{environment.name}.yml"


def render_overlay(environment: Environment) -> str:
    memory = environment.web_memory.lower()
    return OVERLAY_TEMPLATE.format(
        name=environment.name,
        host=environment.host,
        settings_module=environment.settings_module,
        cache_db=environment.redis_cache_db,
        broker_db=environment.redis_broker_db,
        env_file=environment.env_file,
        memory_line=f"    mem_limit: {memory}\n" if memory else "",
    )
