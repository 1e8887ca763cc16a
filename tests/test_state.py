"""A centre's state (rules, and as written by a sync), true capacity, and the overview."""

from datetime import datetime, timedelta

import pytest
from django.test import Client

from aletheia.catalog import selectors, services
from aletheia.catalog.models import (
    Agenda,
    AvailabilitySnapshot,
    Centre,
    CentreDay,
    CentreStateChange,
    SyncRun,
)
from aletheia.catalog.services.state import AgendaFigures, Failure, state_decide
from aletheia.doctolib.client import DoctolibClient
from aletheia.doctolib.parsing import PARIS
from fakedoctolib import FakeWorld, Schedule
from tests.doctolib_fakes import TODAY

NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 8, 0, tzinfo=PARIS)
State = Centre.State


def agenda(
    days: float | None = 1, availability: str = "open", bookable: bool = True, full: int = 14
) -> AgendaFigures:
    next_slot = NOW + timedelta(days=days) if days is not None else None
    return AgendaFigures(
        bookable=bookable, availability=availability, next_slot=next_slot, full_after_days=full
    )


@pytest.mark.parametrize(
    ("agendas", "failure", "synced", "expected"),
    [
        ([agenda(1)], None, True, State.OK),
        ([agenda(20)], None, True, State.FULL),
        ([agenda(None, "none")], None, True, State.FULL),
        ([agenda(20), agenda(3)], None, True, State.OK),  # one agenda with a slot is enough
        ([agenda(20, full=30)], None, True, State.OK),  # the speciality's own threshold
        ([agenda(10, full=7)], None, True, State.FULL),
        ([], None, True, State.CLOSED),
        ([agenda(1, bookable=False)], None, True, State.CLOSED),
        ([agenda(None, "closed")], None, True, State.CLOSED),
        ([agenda(None, "closed"), agenda(30, "later")], None, True, State.FULL),
        ([agenda(None, "")], None, True, State.OK),  # catalog only: nothing said about slots
        ([], None, False, State.NEVER),
        ([agenda(1)], Failure(State.BLOCKED, "403"), True, State.BLOCKED),
        ([agenda(1)], Failure(State.ERROR, "not JSON"), True, State.ERROR),
        ([], Failure(State.GONE, "410"), False, State.GONE),
    ],
)
def test_state_rules(agendas, failure, synced, expected) -> None:
    assert state_decide(synced=synced, failure=failure, agendas=agendas, now=NOW).state == expected


def test_full_says_the_threshold_it_used() -> None:
    decision = state_decide(
        synced=True, failure=None, agendas=[agenda(40, full=21), agenda(50)], now=NOW
    )
    assert (decision.state, decision.full_after_days) == (State.FULL, 14)


def track(world: FakeWorld, index: int) -> Centre:
    return Centre.objects.create(slug=list(world.profiles)[index], label=f"Centre {index}")


def run(profiles: list[Centre], client: DoctolibClient, now: datetime = NOW) -> SyncRun:
    return services.sync_run_execute(
        kind=SyncRun.Kind.FULL, profiles=profiles, client=client, now=services.fixed_clock(now)
    )


@pytest.mark.django_db
def test_a_sync_writes_each_centres_state_with_its_reason_and_history(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profiles = [track(world, i) for i in range(4)]
    fakes = [world.profiles[p.slug] for p in profiles]
    fakes[1].behaviour = "blocked"
    fakes[2].behaviour = "garbage"
    for key in fakes[3].schedules:  # nothing bookable within 28 days
        fakes[3].schedules[key] = Schedule("none")
    run(profiles, doctolib_client)
    states = {p.pk: p for p in Centre.objects.all()}
    assert states[profiles[0].pk].state == State.OK
    blocked = states[profiles[1].pk]
    assert blocked.state == State.BLOCKED
    assert "403" in blocked.last_error
    assert "403" in blocked.state_reason()
    assert states[profiles[2].pk].state == State.ERROR
    assert states[profiles[3].pk].state == State.FULL
    assert states[profiles[3].pk].slots_28 == 0
    assert CentreStateChange.objects.filter(centre=profiles[1], state=State.BLOCKED).exists()
    assert CentreDay.objects.filter(day=TODAY).count() == 4

    # a day later, unchanged: the state keeps its "since", a new day row is written
    fakes[1].behaviour = "ok"
    run(profiles, doctolib_client, NOW + timedelta(days=1))
    full = Centre.objects.get(pk=profiles[3].pk)
    assert full.state_since == NOW
    recovered = Centre.objects.get(pk=profiles[1].pk)
    assert recovered.state in (State.OK, State.FULL, State.CLOSED)
    assert recovered.state_since == NOW + timedelta(days=1)
    assert CentreDay.objects.filter(centre=profiles[3]).count() == 2


@pytest.mark.django_db
def test_a_centre_not_tried_because_the_circuit_is_open_keeps_its_state(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profiles = [track(world, i) for i in range(5)]
    run(profiles[4:], doctolib_client)
    world.block_everything = True
    blocked_run = run(profiles, doctolib_client)
    assert blocked_run.status == SyncRun.Status.BLOCKED
    untouched = Centre.objects.get(pk=profiles[4].pk)
    assert untouched.state == State.OK  # never asked in this run: not blamed


@pytest.mark.django_db
def test_capacity_counts_distinct_slots_per_agenda(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profile = track(world, 0)
    fake = world.profiles[profile.slug]
    raw_agenda = next(a for a in fake.booking["data"]["agendas"] if not a["booking_disabled"])
    motive_ids = raw_agenda["visit_motive_ids"]
    closed_to_new = motive_ids[0]
    for motive in fake.booking["data"]["visit_motives"]:
        motive["allow_new_patients"] = motive["id"] != closed_to_new
    for motive_id in motive_ids:  # every motive offers the same daily slots
        fake.schedules[(raw_agenda["id"], motive_id)] = Schedule("open", 0, 4, 1)
    run([profile], doctolib_client)

    row = Agenda.objects.get(profile=profile, doctolib_id=raw_agenda["id"])
    snapshots = AvailabilitySnapshot.objects.filter(agenda=row, is_latest=True)
    summed = sum(s.slots_7 for s in snapshots)
    expected = {
        s
        for motive_id in motive_ids
        for d in range(7)
        for s in world.slots(fake, raw_agenda["id"], motive_id, TODAY + timedelta(days=d))
        if s >= NOW
    }
    assert row.slots_7 == len(expected)
    assert summed > row.slots_7  # the old way counted each slot once per motive
    new_only = {
        s
        for motive_id in motive_ids[1:]
        for d in range(7)
        for s in world.slots(fake, raw_agenda["id"], motive_id, TODAY + timedelta(days=d))
        if s >= NOW
    }
    assert row.new_patient_slots_7 == len(new_only)
    centre = Centre.objects.get(pk=profile.pk)
    listed = Agenda.objects.filter(profile=profile, present=True, booking_disabled=False)
    assert centre.slots_7 == sum(a.slots_7 for a in listed)


@pytest.mark.django_db
def test_overview_puts_centres_needing_attention_first_with_tiles_and_filters(
    staff_client: Client, world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profiles = [track(world, i) for i in range(3)]
    world.profiles[profiles[2].slug].behaviour = "blocked"
    run(profiles, doctolib_client)
    data = selectors.overview(selectors.OverviewFilters(), NOW)
    assert data.centres[0].pk == profiles[2].pk
    assert {s: n for s, _, n in data.by_state}[State.BLOCKED] == 1
    assert data.slots_7 == sum(c.slots_7 for c in data.centres)

    html = staff_client.get("/dashboard/").content.decode()
    first_row = html.split("<tbody>")[1].split("</tr>")[0]
    assert "Centre 2" in first_row
    assert "Bloqué" in first_row
    filtered = staff_client.get("/dashboard/", {"state": "blocked"}).content.decode()
    assert "Centre 2" in filtered
    assert "Centre 0" not in filtered
    searched = staff_client.get("/dashboard/", {"q": "centre 1"}).content.decode()
    assert "Centre 1" in searched
    assert "Centre 0" not in searched


@pytest.mark.django_db
def test_snapshots_know_their_run(world: FakeWorld, doctolib_client: DoctolibClient) -> None:
    sync_run = run([track(world, 0)], doctolib_client)
    snapshots = AvailabilitySnapshot.objects.all()
    assert snapshots.exists()
    assert set(snapshots.values_list("sync_run", flat=True)) == {sync_run.pk}


@pytest.mark.django_db
def test_a_sync_expires_the_cached_overview(
    staff_client: Client,
    world: FakeWorld,
    doctolib_client: DoctolibClient,
    django_capture_on_commit_callbacks,
) -> None:
    centre = track(world, 0)
    with django_capture_on_commit_callbacks(execute=True):
        run([centre], doctolib_client)
    assert "Centre 0" not in staff_client.get("/dashboard/", {"state": "blocked"}).content.decode()
    world.profiles[centre.slug].behaviour = "blocked"
    with django_capture_on_commit_callbacks(execute=True):
        run([centre], doctolib_client, NOW + timedelta(hours=1))
    html = staff_client.get("/dashboard/", {"state": "blocked"}).content.decode()
    assert "Centre 0" in html
