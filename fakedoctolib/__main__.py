"""`python -m fakedoctolib`: serve a demo world, e.g. to try sync_doctolib by hand."""

import argparse

from fakedoctolib.demo import demo_world
from fakedoctolib.server import FakeDoctolibServer


def main() -> None:
    """Serve a demo world of the fake Doctolib (prints its slugs)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8800)
    parser.add_argument("--profiles", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--block", action="store_true", help="answer 403 to everything")
    args = parser.parse_args()
    world = demo_world(args.profiles)
    world.block_everything = args.block
    server = FakeDoctolibServer(world, port=args.port, latency=args.latency)
    print(f"Doctolib-shaped server on {server.url} ({'403 to everything' if args.block else 'ok'})")
    print("profiles:", " ".join(world.profiles))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    main()
