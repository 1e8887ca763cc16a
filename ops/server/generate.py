"""Files derived from the environment matrix: the compose files and the environments table of
docs/deployment.md. `python3 -m ops generate` writes them, `--check` says which drifted."""

from collections.abc import Callable
from pathlib import Path

from ops.server import compose
from ops.server.environments import REPO_ROOT, Environment, load

DOCS = REPO_ROOT / "docs" / "deployment.md"
TABLE_START = (
    "<!-- environments table: generated from environments.toml by `python3 -m ops generate` -->\n"
)
TABLE_END = "<!-- end of the generated environments table -->\n"

EMAIL = {"console": "console", "brevo": "Brevo", "smtp": "SMTP relay"}
REFS = {"working-tree": "working tree", "tag": "a tag only"}

ROWS: list[tuple[str, Callable[[Environment], str]]] = [
    ("URL", lambda e: e.host),
    ("Compose files", lambda e: " + ".join(f"`{name}`" for name in e.compose_files)),
    ("Env file", lambda e: f"`$ROOT/{e.env_file}`" if e.env_file else "inline in the override"),
    ("Django settings", lambda e: e.settings),
    ("DEBUG", lambda e: str(e.debug)),
    ("Web server", lambda e: e.web_server),
    (
        "Source",
        lambda e: "mounted working tree" if e.source == "mounted" else "baked into the image",
    ),
    ("Database", lambda e: e.database),
    ("Redis (cache, broker)", lambda e: f"db {e.redis_cache_db}, {e.redis_broker_db}"),
    ("Email", lambda e: EMAIL[e.email]),
    ("Sentry", lambda e: "on (when `SENTRY_DSN` is set)" if e.sentry else "off"),
    (
        "Proxy auth",
        lambda e: "basic auth" if e.proxy_auth == "basic" else "none" if e.is_server else "—",
    ),
    ("Rate limited", lambda e: "yes" if e.rate_limited else "no"),
    ("Web memory", lambda e: e.web_memory or "unlimited"),
    (
        "Doctolib requests/s",
        lambda e: (
            f"{e.doctolib_rate:g}" + (" (its share of the server's budget)" if e.is_server else "")
        ),
    ),
    ("Deploys", lambda e: REFS.get(e.refs) or f"`{e.default_ref}` or any branch"),
    (
        "Runtime",
        lambda e: (
            e.runtime
            + (
                f" (web x{e.web_replicas}, worker x{e.worker_replicas}, beat x1)"
                if e.web_replicas or e.worker_replicas
                else ""
            )
        ),
    ),
    (
        "Backup before deploy",
        lambda e: "yes (`SKIP_BACKUP=1` skips it, recorded)" if e.backup_before_deploy else "no",
    ),
]


def environments_table(matrix: dict[str, Environment]) -> str:
    names = list(matrix)
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    lines += [
        f"| {label} | " + " | ".join(cell(matrix[n]) for n in names) + " |" for label, cell in ROWS
    ]
    return "\n".join(lines) + "\n"


def docs_with_table(text: str, table: str) -> str:
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[:start] + table + text[end:]


def generated_files() -> dict[Path, str]:
    matrix = load()
    files = {
        compose.path_of(environment): compose.render(environment) for environment in matrix.values()
    }
    files[DOCS] = docs_with_table(DOCS.read_text(), environments_table(matrix))
    return files


def write(check: bool) -> list[str]:
    """Write each generated file that differs (or, with check, only list them)."""
    stale = []
    for path, text in generated_files().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(str(path.relative_to(REPO_ROOT)))
        if not check:
            path.write_text(text)
    return stale
