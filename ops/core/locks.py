"""One deploy per environment at a time: a lock directory with who holds it.

mkdir is atomic. A lock whose process is gone (a killed deploy) is detected and reported,
never silently taken over: `python3 -m ops unlock ENV` removes it after a human has looked.
"""

import fcntl
import getpass
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class LockHeld(Exception):
    pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(info: dict[str, object]) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info.get("started", 0))))  # type: ignore[arg-type]
    return f"{info.get('user')}@{info.get('host')} (pid {info.get('pid')}, ref {info.get('ref')}, since {started})"


def acquire(directory: Path, environment: str, ref: str) -> Path:
    lock = directory / f"deploy-{environment}.lock"
    directory.mkdir(parents=True, exist_ok=True)
    try:
        lock.mkdir()
    except FileExistsError:
        try:
            info = json.loads((lock / "info.json").read_text())
        except (OSError, ValueError):
            info = {}
        pid = int(info.get("pid", 0) or 0)
        same_host = info.get("host") == socket.gethostname()
        if pid and same_host and not _alive(pid):
            raise LockHeld(
                f"a stale deploy lock for {environment} is left by a deploy that is no longer "
                f"running: {describe(info)}. Check the environment, then remove it with "
                f"`python3 -m ops unlock {environment}`."
            ) from None
        raise LockHeld(
            f"{environment} is being deployed by {describe(info) if info else 'someone'}"
        ) from None
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "user": getpass.getuser(),
        "ref": ref,
        "started": time.time(),
    }
    (lock / "info.json").write_text(json.dumps(info))
    return lock


def release(lock: Path) -> None:
    shutil.rmtree(lock, ignore_errors=True)


@contextmanager
def server_wide(
    directory: Path, what: str, say: Callable[[str], None] | None = None, dry_run: bool = False
) -> Iterator[None]:
    """One at a time on this server, whatever the environment: the git checkout all deploys
    fetch into, and nginx's config directory. Waits (saying so) while another holds it; the
    kernel frees it when its process dies, so it never goes stale."""
    if dry_run:  # a dry run changes nothing, not even the state directory
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "server.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if say:
                say(f"    waiting: another deploy is using the {what}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
