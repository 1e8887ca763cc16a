"""The one place settings read the process environment (django-environ).

Every variable is listed, with its meaning, in `.env.example` at the repository root.
"""

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()


def redis_db_url(base_url: str, db: int) -> str:
    """`redis://host:6379[/n]` with its database number replaced by `db`."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


def host_name(host: str) -> str:
    """`aletheia.example.com:8443` -> `aletheia.example.com` (ALLOWED_HOSTS takes no port)."""
    return urlsplit(f"//{host}").hostname or host
