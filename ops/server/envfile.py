"""A server environment's env file ($ROOT/aletheia/envs/.env.ENV): parsed and checked.

The env file holds what the operator sets: secrets and where the data services are. What the
matrix decides (environment name, host, Redis db numbers, email kind…) is set by the compose
overlay, which wins over the env file; `.env.example` and the production settings are checked
against these lists by tests/test_envfile.py.
"""

import stat
from dataclasses import dataclass, field
from pathlib import Path

from ops.server.environments import Environment

# Required in every server environment's env file.
REQUIRED_KEYS = ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL")
# Required by the matrix's `email` of the environment (production settings read them).
REQUIRED_BY_EMAIL = {"brevo": ("BREVO_API_KEY",), "smtp": ("EMAIL_URL",), "console": ()}
# Set by the image (docker/Dockerfile): an env file value would hide the running release.
IMAGE_KEYS = ("ALETHEIA_RELEASE",)
DEFAULT_PORT = 8000  # docker/start's default too
GREEN_PORT_OFFSET = 1000  # host networking: green listens on PORT + 1000 unless PORT_GREEN
SECRET_KEY_PLACEHOLDER = "change-me-to-50-random-characters"  # noqa: S105 — .env.example's, refused
SECRET_KEY_MIN_LENGTH = 50  # what Django's check --deploy asks for


def parse(text: str) -> dict[str, str]:
    """KEY=value lines, as Compose reads an env_file (no quoting, `#` comments)."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def set_value(path: Path, key: str, value: str) -> None:
    """Replace (or add) `key`'s line, keeping every other line; written whole, mode 0600."""
    lines = path.read_text().splitlines()
    found = [i for i, line in enumerate(lines) if line.split("=", 1)[0].strip() == key]
    if found:
        lines[found[0]] = f"{key}={value}"
    else:
        lines.append(f"{key}={value}")
    partial = path.with_name(path.name + ".partial")
    partial.touch(mode=0o600)
    partial.chmod(0o600)
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(path)


def required_keys(environment: Environment) -> tuple[str, ...]:
    return REQUIRED_KEYS + REQUIRED_BY_EMAIL[environment.email]


@dataclass(frozen=True)
class EnvFile:
    path: Path
    values: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # each says what is wrong and the fix
    warnings: tuple[str, ...] = ()  # accepted, but probably not what was meant

    @property
    def web_port(self) -> int:
        return int(self.values.get("PORT") or DEFAULT_PORT)

    @property
    def web_ports(self) -> tuple[int, int]:
        """Host networking: the blue and the green web slot's ports (ops/server/slots.py)."""
        green = self.values.get("PORT_GREEN")
        return self.web_port, int(green) if green else self.web_port + GREEN_PORT_OFFSET

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)


def read(path: Path, environment: Environment, overlay_keys: frozenset[str]) -> EnvFile:
    """The env file at `path` with its problems; a missing file is one problem, not an error."""
    if not path.is_file():
        return EnvFile(
            path, problems=(f"env file {path} is missing (docs/deployment/first-time-setup.md)",)
        )
    problems, warnings = [], []
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        problems.append(f"env file {path} is readable by others (mode {mode:o}): chmod 600 {path}")
    values = parse(path.read_text())
    missing = [key for key in required_keys(environment) if not values.get(key)]
    if missing:
        problems.append(f"env file {path} lacks: {', '.join(missing)}")
    secret = values.get("DJANGO_SECRET_KEY", "")
    if secret and (
        secret == SECRET_KEY_PLACEHOLDER
        or len(secret) < SECRET_KEY_MIN_LENGTH
        or len(set(secret)) < 5
    ):
        problems.append(
            f"env file {path}: DJANGO_SECRET_KEY is the example's or too short (50+ random "
            "characters: python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    if values.get("PORT") and not values["PORT"].isdigit():
        problems.append(f"env file {path}: PORT={values['PORT']!r} is not a port number")
    for key in sorted(set(values) & overlay_keys):
        warnings.append(f"{key} in {path.name} is ignored: environments.toml sets it")
    for key in IMAGE_KEYS:
        if key in values:
            warnings.append(f"{key} in {path.name} hides the image's value: remove the line")
    return EnvFile(path, values, tuple(problems), tuple(warnings))
