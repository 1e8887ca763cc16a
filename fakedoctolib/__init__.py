"""A local HTTP server that speaks Doctolib's public JSON, with its failure modes.

Test and demo tooling, kept out of the product (`aletheia/`): the tests, `seed_demo`, the
benchmarks and `python -m fakedoctolib` point the real client at it, so Doctolib itself is
never reached.

- `world`: the data (centres as Doctolib's JSON, schedules) and the availability answers;
- `server`: the HTTP handler and the threaded server, with misbehaviour on demand;
- `demo`: a generator of realistic, deterministic centres.
"""

from fakedoctolib.demo import demo_world
from fakedoctolib.server import FakeDoctolibServer
from fakedoctolib.world import FakeProfile, FakeWorld, Schedule, build_booking

__all__ = [
    "FakeDoctolibServer",
    "FakeProfile",
    "FakeWorld",
    "Schedule",
    "build_booking",
    "demo_world",
]
