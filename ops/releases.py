"""The release log: one JSON line per deploy attempt, per environment (restores-ENV.jsonl:
one per restore)."""

import json
import time
from pathlib import Path


def log_path(state_dir: Path, environment: str, log: str = "releases") -> Path:
    return state_dir / f"{log}-{environment}.jsonl"


def record(
    state_dir: Path, environment: str, entry: dict[str, object], log: str = "releases"
) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    with log_path(state_dir, environment, log).open("a") as handle:
        handle.write(json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **entry}) + "\n")


def read(state_dir: Path, environment: str, log: str = "releases") -> list[dict[str, object]]:
    path = log_path(state_dir, environment, log)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def current(state_dir: Path, environment: str) -> dict[str, object] | None:
    succeeded = [r for r in read(state_dir, environment) if r.get("result") == "succeeded"]
    return succeeded[-1] if succeeded else None
