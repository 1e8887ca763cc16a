import itertools
from datetime import date, datetime, timedelta

import httpx
import pytest
import redis

from aletheia.doctolib.client import DoctolibClient, retry_after_seconds
from aletheia.doctolib.errors import BadResponse, Blocked, CircuitOpen, ProfileGone, Unavailable
from aletheia.doctolib.parsing import PARIS, parse_availabilities, parse_moment
from aletheia.doctolib.throttle import RedisRateLimiter
from fakedoctolib import FakeDoctolibServer, FakeWorld, Schedule
from tests.doctolib_fakes import TODAY, RecordedSleep


def first_slug(world: FakeWorld) -> str:
    return next(iter(world.profiles))


def test_booking_is_parsed_from_the_recorded_shape(
    doctolib_client: DoctolibClient, world: FakeWorld
) -> None:
    slug = first_slug(world)
    booking = doctolib_client.booking(slug)
    raw = world.profiles[slug].booking["data"]
    assert booking.profile_id == raw["profile"]["id"]
    assert [a.doctolib_id for a in booking.agendas] == [a["id"] for a in raw["agendas"]]
    assert {p.practice_id for p in booking.places} == {
        int(p["id"].split("-")[1]) for p in raw["places"]
    }
    assert len(booking.visit_motives) == len(raw["visit_motives"])


def test_user_agent_is_the_configured_key(
    doctolib_client: DoctolibClient, doctolib: FakeDoctolibServer
) -> None:
    request = doctolib_client.http.build_request("GET", "/x")
    assert request.headers["User-Agent"] == "aletheia-test-key"


@pytest.mark.parametrize(("behaviour", "status"), [("gone", 410), ("missing", 404)])
def test_removed_profiles_are_gone(
    doctolib_client: DoctolibClient, world: FakeWorld, behaviour: str, status: int
) -> None:
    slug = first_slug(world)
    world.profiles[slug].behaviour = behaviour
    with pytest.raises(ProfileGone) as caught:
        doctolib_client.booking(slug)
    assert caught.value.status == status


def test_unknown_slug_is_gone(doctolib_client: DoctolibClient) -> None:
    with pytest.raises(ProfileGone, match="404"):
        doctolib_client.booking("no-such-centre")


def test_403_is_blocked_and_opens_the_circuit_after_n(
    doctolib_client: DoctolibClient, world: FakeWorld
) -> None:
    world.block_everything = True
    slug = first_slug(world)
    for _ in range(2):
        with pytest.raises(Blocked, match="403 Forbidden"):
            doctolib_client.booking(slug)
    with pytest.raises(CircuitOpen, match="403"):
        doctolib_client.booking(slug)
    sent = doctolib_client.requests_sent
    with pytest.raises(CircuitOpen):  # open: no request is sent at all
        doctolib_client.booking(slug)
    assert doctolib_client.requests_sent == sent


def test_429_honours_retry_after(
    doctolib_client: DoctolibClient, world: FakeWorld, sleeps: RecordedSleep
) -> None:
    slug = first_slug(world)
    world.profiles[slug].transient = [429]
    world.profiles[slug].retry_after = "2"
    assert doctolib_client.booking(slug).name
    assert sleeps.calls == [2.0]
    assert doctolib_client.requests_sent == 2


def test_5xx_backs_off_exponentially_with_jitter(
    doctolib_client: DoctolibClient, world: FakeWorld, sleeps: RecordedSleep
) -> None:
    slug = first_slug(world)
    world.profiles[slug].transient = [503, 502]
    assert doctolib_client.booking(slug).name
    assert len(sleeps.calls) == 2
    assert 0.01 <= sleeps.calls[0] <= 0.51
    assert 0.02 <= sleeps.calls[1] <= 0.52


def test_persistent_5xx_is_unavailable_after_every_retry(
    doctolib_client: DoctolibClient, world: FakeWorld
) -> None:
    slug = first_slug(world)
    world.profiles[slug].transient = [503] * 10
    with pytest.raises(Unavailable, match="HTTP 503, still failing after 4 attempts"):
        doctolib_client.booking(slug)


def test_timeouts_are_retried_then_unavailable(
    doctolib_client: DoctolibClient, world: FakeWorld
) -> None:
    slug = first_slug(world)
    world.profiles[slug].behaviour = "slow"
    world.slow_seconds = 1.0
    with pytest.raises(Unavailable, match=r"timed out after 0\.5s"):
        doctolib_client.booking(slug)
    assert doctolib_client.requests_sent == 4


@pytest.mark.parametrize(
    ("behaviour", "message"), [("garbage", "not JSON"), ("error_payload", "error payload")]
)
def test_malformed_answers_are_bad_responses(
    doctolib_client: DoctolibClient, world: FakeWorld, behaviour: str, message: str
) -> None:
    slug = first_slug(world)
    world.profiles[slug].behaviour = behaviour
    with pytest.raises(BadResponse, match=message):
        doctolib_client.booking(slug)


def _one_agenda(world: FakeWorld) -> tuple[str, dict, int]:
    for slug, profile in world.profiles.items():
        for agenda in profile.booking["data"]["agendas"]:
            if agenda["visit_motive_ids"]:
                return slug, agenda, agenda["visit_motive_ids"][0]
    raise AssertionError("no bookable agenda in the world")


def test_empty_window_jumps_to_next_slot(
    doctolib_client: DoctolibClient, world: FakeWorld, doctolib: FakeDoctolibServer
) -> None:
    slug, agenda, motive_id = _one_agenda(world)
    world.profiles[slug].schedules[(agenda["id"], motive_id)] = Schedule("open", 20, 3, 1)
    window = doctolib_client.availability_window(
        agenda_id=agenda["id"],
        motive_id=motive_id,
        practice_id=agenda["practice_id"],
        start=TODAY,
        horizon_days=28,
    )
    assert window.slots, "slots after the jump were found"
    assert window.next_slot == window.slots[0]
    assert (window.next_slot.date() - TODAY).days >= 20
    # first page empty with next_slot -> one jump -> pages from there: never more than 3 requests
    assert doctolib_client.requests_sent <= 3


def test_first_slot_beyond_horizon_given_as_bare_date(
    doctolib_client: DoctolibClient, world: FakeWorld
) -> None:
    slug, agenda, motive_id = _one_agenda(world)
    world.profiles[slug].schedules[(agenda["id"], motive_id)] = Schedule("later", 50, 2)
    window = doctolib_client.availability_window(
        agenda_id=agenda["id"], motive_id=motive_id, practice_id=None, start=TODAY, horizon_days=28
    )
    assert window.slots == ()
    assert window.next_slot is not None
    assert window.next_slot.hour == 0  # a bare yyyy-mm-dd, midnight in Paris
    assert (window.next_slot.date() - TODAY).days >= 50


def test_no_availability_reason(doctolib_client: DoctolibClient, world: FakeWorld) -> None:
    slug, agenda, motive_id = _one_agenda(world)
    world.profiles[slug].schedules[(agenda["id"], motive_id)] = Schedule("none")
    window = doctolib_client.availability_window(
        agenda_id=agenda["id"], motive_id=motive_id, practice_id=None, start=TODAY, horizon_days=28
    )
    assert (window.slots, window.next_slot, window.reason) == ((), None, "no_availabilities")


def test_one_closed_agenda_hides_the_others_so_agendas_are_asked_one_by_one(
    doctolib_client: DoctolibClient, world: FakeWorld, doctolib: FakeDoctolibServer
) -> None:
    slug = next(
        s
        for s, p in world.profiles.items()
        if len([a for a in p.booking["data"]["agendas"] if a["visit_motive_ids"]]) >= 2
    )
    profile = world.profiles[slug]
    open_agenda, closed_agenda = [
        a for a in profile.booking["data"]["agendas"] if a["visit_motive_ids"]
    ][:2]
    motive = open_agenda["visit_motive_ids"][0]
    closed_motive = closed_agenda["visit_motive_ids"][0]
    profile.schedules[(open_agenda["id"], motive)] = Schedule("open", 0, 4, 1)
    profile.schedules[(closed_agenda["id"], closed_motive)] = Schedule("closed")
    together = httpx.get(
        f"{doctolib.url}/availabilities.json",
        params={
            "start_date": TODAY.isoformat(),
            "limit": 7,
            "agenda_ids": f"{open_agenda['id']}-{closed_agenda['id']}",
            "visit_motive_ids": f"{motive}-{closed_motive}",
        },
    ).json()
    assert together["reason"] == "not_opened_availability"
    assert together["total"] == 0
    alone = doctolib_client.availability_window(
        agenda_id=open_agenda["id"], motive_id=motive, practice_id=None, start=TODAY, horizon_days=7
    )
    assert len(alone.slots) > 0


def test_slots_as_strings_and_as_objects_parse_alike() -> None:
    strings = {
        "availabilities": [
            {
                "date": "2021-05-25",
                "slots": ["2021-05-25T16:00:00.000+02:00", "2021-05-25T16:10:00.000+02:00"],
                "substitution": None,
            },
            {"date": "2021-05-26", "slots": [], "substitution": None},
        ],
        "total": 2,
    }
    objects = {
        "availabilities": [
            {
                "date": "2021-05-25",
                "slots": [
                    {
                        "agenda_id": 1,
                        "practitioner_agenda_id": None,
                        "start_date": "2021-05-25T16:00:00.000+02:00",
                        "end_date": "2021-05-25T16:10:00.000+02:00",
                        "steps": [
                            {
                                "agenda_id": 1,
                                "start_date": "2021-05-25T16:00:00.000+02:00",
                                "end_date": "…",
                                "visit_motive_id": 2,
                            }
                        ],
                    },
                    {
                        "agenda_id": 1,
                        "start_date": "2021-05-25T16:10:00.000+02:00",
                        "end_date": "x",
                        "steps": [],
                    },
                ],
            }
        ]
    }
    assert parse_availabilities(strings).slots == parse_availabilities(objects).slots
    assert parse_availabilities(strings).slots[0] == datetime(2021, 5, 25, 16, 0, tzinfo=PARIS)


def test_object_slots_from_the_server(doctolib_client: DoctolibClient, world: FakeWorld) -> None:
    slug, agenda, motive_id = _one_agenda(world)
    world.profiles[slug].slot_objects = True
    world.profiles[slug].schedules[(agenda["id"], motive_id)] = Schedule("open", 0, 2, 1)
    window = doctolib_client.availability_window(
        agenda_id=agenda["id"], motive_id=motive_id, practice_id=None, start=TODAY, horizon_days=7
    )
    assert window.slots
    assert all(s.tzinfo for s in window.slots)


@pytest.mark.parametrize(
    "payload",
    [
        {"availabilities": "nope"},
        {"availabilities": [{"slots": []}]},
        {"availabilities": [{"date": "2026-01-01", "slots": [42]}]},
        [],
        {"error": "x"},
    ],
)
def test_malformed_availabilities_are_rejected(payload: object) -> None:
    with pytest.raises(BadResponse):
        parse_availabilities(payload)


def test_moments_parse_iso_and_bare_dates() -> None:
    assert parse_moment("2026-03-12") == datetime(2026, 3, 12, tzinfo=PARIS)
    assert parse_moment("2026-03-12T09:00:00.000+01:00").utcoffset() == timedelta(hours=1)
    with pytest.raises(BadResponse):
        parse_moment("soon")


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7", 0) == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == 10.0
    assert retry_after_seconds("soon", 0) is None


def test_redis_rate_limit_is_shared_between_workers() -> None:
    """Two limiters (two worker processes) on one key share one budget of 20 requests/s."""
    connection = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    key = f"test:ratelimit:{date.today()}:{id(connection)}"
    waits: list[float] = []
    workers = [RedisRateLimiter(connection, 20, key=key, sleep=waits.append) for _ in range(2)]
    reserved = [workers[i % 2].acquire() for i in range(10)]
    connection.delete(key)
    # reservations are spaced by 1/20 s whichever worker asks: the 10th waits about 0.45 s
    assert reserved[0] < 0.02
    assert all(later > earlier for earlier, later in itertools.pairwise(reserved))
    assert 0.40 < reserved[-1] < 0.50
