"""python3 -m ops COMMAND — Aletheia's server tool (standard library only)."""

import argparse
import sys

from ops import compose, environments


def compose_overlays(check: bool) -> int:
    stale = []
    for environment in environments.server_environments().values():
        path, text = compose.overlay_path(environment), compose.render_overlay(environment)
        if path.exists() and path.read_text() == text:
            continue
        if check:
            stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote {path.name}")
    if stale:
        print(
            f"out of date with environments.toml: {', '.join(stale)} (run python3 -m ops compose-overlays)"
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    overlays = commands.add_parser(
        "compose-overlays",
        help="write docker-compose.{dev,staging,prod}.yml from environments.toml",
    )
    overlays.add_argument("--check", action="store_true", help="only say whether they are current")
    args = parser.parse_args(argv)
    if args.command == "compose-overlays":
        return compose_overlays(args.check)
    return 2


if __name__ == "__main__":
    sys.exit(main())
