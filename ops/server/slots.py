"""Two web slots per environment (blue and green): a release's web and worker run as their own
Compose project, aletheia-ENV-SLOT, beside the other slot's; nginx points at one of them.

Why one Compose project per slot rather than two services in the compose files: the release's
own compose files stay as they are (a rollback to any kept release works the same way), a
slot is started, checked, stopped and removed as a whole with plain compose commands, and
`compose ps` of each project says what runs where. What differs between the slots (the port in
host-network mode, the network alias in shared-network mode) is a small overlay ops writes to
$ROOT/aletheia/slots/ENV-SLOT.yml. Beat stays in the environment's project (aletheia-ENV): it
is never run twice, so it has no slot.

The live slot is recorded in $ROOT/aletheia/state/web-slot-ENV; no file means the environment
still runs the single `web` of its project (deployed before slots): the first switch goes to
green and removes it.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from ops.server.settings import ServerSettings

if TYPE_CHECKING:
    from ops.server.target import Target

SLOTS = ("blue", "green")
SLOT_SERVICES = ("web", "celery")  # a release's web and worker: started and stopped together
MAIN_SERVICES = ("celery_beat",)  # one at a time, in the environment's own project


def state_file(server: ServerSettings, env: str) -> Path:
    return server.state_dir / f"web-slot-{env}"


def live(server: ServerSettings, env: str) -> str | None:
    path = state_file(server, env)
    if not path.is_file():
        return None
    slot = path.read_text().strip()
    return slot if slot in SLOTS else None


def record(server: ServerSettings, env: str, slot: str) -> None:
    server.state_dir.mkdir(parents=True, exist_ok=True)
    partial = state_file(server, env).with_suffix(".partial")
    partial.write_text(slot + "\n")
    partial.replace(state_file(server, env))


def other(slot: str | None) -> str:
    """The slot a switch starts: the one not live (green when the legacy `web` serves)."""
    return "blue" if slot == "green" else "green"


def port(target: "Target", slot: str | None) -> int:
    """The slot's web port in host-network mode (blue: PORT; green: PORT_GREEN or PORT+1000).
    The legacy single `web` listens on PORT too."""
    blue, green = target.env_file.web_ports
    return green if slot == "green" else blue


def alias(env: str, slot: str) -> str:
    return f"aletheia-{env}-web-{slot}"


def overlay(target: "Target", slot: str) -> str:
    """The compose overlay of a slot: its port (host network) or its alias (shared network)."""
    lines = [
        f"# slot {slot} of {target.name}: written by ops (ops/server/slots.py), not to be edited",
        "services:",
        "  web:",
        "    environment:",
        f"      ALETHEIA_WEB_SLOT: {slot}",
    ]
    if target.server.network == "host":
        lines.append(f'      PORT: "{port(target, slot)}"')
    else:
        lines += ["    networks:", "      shared:", "        aliases:"]
        lines.append(f"          - {alias(target.name, slot)}")
    lines += ["  celery:", "    environment:", f"      ALETHEIA_WEB_SLOT: {slot}"]
    return "\n".join(lines) + "\n"


def overlay_path(server: ServerSettings, env: str, slot: str) -> Path:
    return server.root / "aletheia" / "slots" / f"{env}-{slot}.yml"


def write_overlay(target: "Target", slot: str) -> Path:
    path = overlay_path(target.server, target.name, slot)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = overlay(target, slot)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


# A swarm environment's web (ops/runtimes/stack.py) takes the place of a slot in nginx's upstream pattern
# (ALETHEIA_UPSTREAM, default aletheia-{env}-web-{slot}): a name of its own, so that while an
# environment moves from compose (whose webs also answer to aletheia-ENV-web) nginx reaches the
# stack's tasks only.
SWARM_SLOT = "swarm"
