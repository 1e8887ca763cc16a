"""The release log: one JSON line per deploy attempt, per environment (restores-ENV.jsonl:
one per restore)."""

import json
import os
import sys
import time
from pathlib import Path


def log_path(state_dir: Path, environment: str, log: str = "releases") -> Path:
    return state_dir / f"{log}-{environment}.jsonl"


def record(
    state_dir: Path, environment: str, entry: dict[str, object], log: str = "releases"
) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **entry}) + "\n"
    # one write of the whole line (O_APPEND), flushed to disk before the command says it is done
    path = log_path(state_dir, environment, log)
    if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
        line = "\n" + line  # after a line cut short, start a line of our own
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read(state_dir: Path, environment: str, log: str = "releases") -> list[dict[str, object]]:
    path = log_path(state_dir, environment, log)
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:  # a line cut short (a full disk, a killed process): said, then skipped
            print(f"warning: {path}:{number} is not a whole entry, skipped", file=sys.stderr)
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def current(state_dir: Path, environment: str) -> dict[str, object] | None:
    succeeded = [r for r in read(state_dir, environment) if r.get("result") == "succeeded"]
    return succeeded[-1] if succeeded else None
