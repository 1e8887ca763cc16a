import copy
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from aletheia.catalog import services
from aletheia.catalog.models import (
    Agenda,
    AvailabilitySnapshot,
    Centre,
    Divergence,
    Expectation,
    Place,
    Practitioner,
    SyncRun,
    VisitMotive,
)
from aletheia.doctolib.client import DoctolibClient
from aletheia.doctolib.errors import ProfileGone
from fakedoctolib import FakeWorld, Schedule
from tests.doctolib_fakes import TODAY

pytestmark = pytest.mark.django_db
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 8, 0).astimezone()
WRITES = ("INSERT", "UPDATE", "DELETE")


def writes_in(queries: list[dict]) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


def track(world: FakeWorld, index: int = 0) -> Centre:
    slug = list(world.profiles)[index]
    return Centre.objects.create(slug=slug, label=f"Centre {index}")


def test_profile_sync_writes_the_catalog_then_nothing_the_second_time(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profile = track(world)
    raw = world.profiles[profile.slug].booking["data"]
    changes = services.profile_sync(profile=profile, client=doctolib_client, now=NOW)
    assert changes > 0
    profile.refresh_from_db()
    assert profile.status == Centre.Status.OK
    assert profile.name == raw["profile"]["name_with_title"]
    assert Agenda.objects.filter(profile=profile).count() == len(raw["agendas"])
    assert VisitMotive.objects.filter(profile=profile).count() == len(raw["visit_motives"])
    assert Place.objects.filter(profile=profile).count() == len(raw["places"])

    with CaptureQueriesContext(connection) as second:
        assert services.profile_sync(profile=profile, client=doctolib_client, now=NOW) == 0
    assert writes_in(second.captured_queries) == []


def test_queries_per_profile_do_not_grow_with_its_size(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    sizes = {slug: len(p.booking["data"]["agendas"]) for slug, p in world.profiles.items()}
    small, large = min(sizes, key=sizes.__getitem__), max(sizes, key=sizes.__getitem__)
    assert sizes[large] > sizes[small]
    counts = {}
    for slug in (small, large):
        profile = Centre.objects.create(slug=slug)
        with CaptureQueriesContext(connection) as ctx:
            services.profile_sync(profile=profile, client=doctolib_client, now=NOW)
        counts[slug] = len(ctx.captured_queries)
    assert counts[small] == counts[large]
    assert counts[large] <= 25


def test_removed_practitioner_is_kept_not_present_and_diverges(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profile = track(world)
    data = world.profiles[profile.slug].booking["data"]
    practitioner = data["practitioners"][0]
    Expectation.objects.create(
        profile=profile,
        kind=Expectation.Kind.PRACTITIONER_LISTED,
        doctolib_id=practitioner["id"],
        label=practitioner["name_with_title"],
    )
    services.profile_sync(profile=profile, client=doctolib_client, now=NOW)
    assert not Divergence.objects.filter(profile=profile, kind="practitioner_missing").exists()

    original = copy.deepcopy(data["practitioners"])
    data["practitioners"] = original[1:]
    later = NOW + timedelta(hours=1)
    services.profile_sync(profile=profile, client=doctolib_client, now=later)
    row = Practitioner.objects.get(profile=profile, doctolib_id=practitioner["id"])
    assert row.present is False
    divergence = Divergence.objects.get(profile=profile, kind="practitioner_missing")
    assert divergence.resolved_at is None
    assert divergence.opened_at == later
    assert practitioner["name_with_title"] in divergence.detail

    data["practitioners"] = original
    fixed = NOW + timedelta(hours=2)
    services.profile_sync(profile=profile, client=doctolib_client, now=fixed)
    divergence.refresh_from_db()
    assert divergence.resolved_at == fixed
    assert Practitioner.objects.get(pk=row.pk).present is True


def test_booking_disabled_and_motive_closed_to_new_patients_diverge(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profile = track(world)
    data = world.profiles[profile.slug].booking["data"]
    motive = data["visit_motives"][0]
    motive["allow_new_patients"] = True
    for agenda in data["agendas"]:
        agenda["booking_disabled"] = False
    Expectation.objects.create(
        profile=profile, kind=Expectation.Kind.MOTIVE_OPEN_TO_NEW, doctolib_id=motive["id"]
    )
    services.profile_sync(profile=profile, client=doctolib_client, now=NOW)
    assert not Divergence.objects.filter(profile=profile, resolved_at__isnull=True).exists()

    motive["allow_new_patients"] = False
    data["agendas"][0]["booking_disabled"] = True
    services.profile_sync(profile=profile, client=doctolib_client, now=NOW)
    kinds = set(
        Divergence.objects.filter(profile=profile, resolved_at__isnull=True).values_list(
            "kind", flat=True
        )
    )
    assert kinds == {"motive_closed_to_new", "booking_disabled"}

    # unchanged: no duplicate divergences
    services.profile_sync(profile=profile, client=doctolib_client, now=NOW + timedelta(hours=1))
    assert Divergence.objects.filter(profile=profile).count() == 2


def test_gone_profile_is_marked_and_diverges(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profile = track(world)
    world.profiles[profile.slug].behaviour = "gone"
    with pytest.raises(ProfileGone):
        services.profile_sync(profile=profile, client=doctolib_client, now=NOW)
    profile.refresh_from_db()
    assert profile.status == Centre.Status.GONE
    gone = Divergence.objects.get(profile=profile, kind="profile_gone")
    assert gone.detail == "Doctolib answers 410 for this page."
    assert gone.params == {"status": 410}
    with translation.override("fr"):
        assert gone.message() == "Doctolib répond 410 pour cette page."


def test_availability_snapshots_are_written_once_per_change(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profile = track(world, 2)
    services.profile_sync(profile=profile, client=doctolib_client, now=NOW)
    first = services.availability_sync(profile=profile, client=doctolib_client, now=NOW)
    pairs = sum(
        len(a.motive_ids)
        for a in Agenda.objects.filter(profile=profile, present=True, booking_disabled=False)
    )
    assert AvailabilitySnapshot.objects.filter(agenda__profile=profile).count() == pairs
    assert first >= pairs
    with CaptureQueriesContext(connection) as second:
        assert (
            services.availability_sync(
                profile=profile, client=doctolib_client, now=NOW + timedelta(minutes=15)
            )
            == 0
        )
    assert writes_in(second.captured_queries) == []

    open_snapshot = AvailabilitySnapshot.objects.filter(
        agenda__profile=profile, status="open"
    ).first()
    assert open_snapshot is not None
    assert open_snapshot.slots_7 <= open_snapshot.slots_14 <= open_snapshot.slots_28
    assert open_snapshot.next_slot is not None


def test_closed_agenda_opens_then_resolves_a_divergence(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profile = track(world)
    fake = world.profiles[profile.slug]
    agenda = next(a for a in fake.booking["data"]["agendas"] if a["visit_motive_ids"])
    agenda["booking_disabled"] = False
    motive_id = agenda["visit_motive_ids"][0]
    fake.schedules[(agenda["id"], motive_id)] = Schedule("closed")
    services.profile_sync(profile=profile, client=doctolib_client, now=NOW)
    services.availability_sync(profile=profile, client=doctolib_client, now=NOW)
    divergence = Divergence.objects.get(
        profile=profile, kind="agenda_closed", subject=f"agenda:{agenda['id']}"
    )
    assert divergence.resolved_at is None

    fake.schedules[(agenda["id"], motive_id)] = Schedule("open", 0, 3, 1)
    for other in agenda["visit_motive_ids"][1:]:
        fake.schedules[(agenda["id"], other)] = Schedule("open", 0, 3, 1)
    services.availability_sync(
        profile=profile, client=doctolib_client, now=NOW + timedelta(minutes=15)
    )
    divergence.refresh_from_db()
    assert divergence.resolved_at is not None


def test_a_failure_midway_writes_nothing_for_that_profile(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profile = track(world, 4)
    services.profile_sync(profile=profile, client=doctolib_client, now=NOW)
    fake = world.profiles[profile.slug]
    pairs = sum(len(a["visit_motive_ids"]) for a in fake.booking["data"]["agendas"])
    assert pairs >= 2
    # the first pair answers, then the server fails for good
    calls = {"n": 0}
    original = doctolib_client.availability_window

    def failing_after_first(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            fake.behaviour = "garbage"
        return original(**kwargs)

    doctolib_client.availability_window = failing_after_first  # type: ignore[method-assign]
    outcome = services.profile_run_one(
        profile=profile, kind=SyncRun.Kind.AVAILABILITIES, client=doctolib_client, now=NOW
    )
    assert outcome.ok is False
    assert "not JSON" in outcome.error
    assert AvailabilitySnapshot.objects.filter(agenda__profile=profile).count() == 0


def test_a_403_storm_stops_the_run_cleanly(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profiles = [track(world, i) for i in range(6)]
    world.block_everything = True
    run = services.sync_run_execute(
        kind=SyncRun.Kind.FULL, profiles=profiles, client=doctolib_client
    )
    assert run.status == SyncRun.Status.BLOCKED
    assert "403" in run.message
    assert "3 profile(s) not synced" in run.message
    assert run.profiles_ok == 0
    assert doctolib_client.requests_sent == 3  # the third 403 opens the circuit
    assert not Agenda.objects.exists()
    assert not AvailabilitySnapshot.objects.exists()

    next_run = services.sync_run_execute(
        kind=SyncRun.Kind.FULL, profiles=profiles, client=doctolib_client
    )
    assert next_run.status == SyncRun.Status.BLOCKED
    assert doctolib_client.requests_sent == 3  # circuit open: nothing sent


def test_full_run_counts_and_second_run_changes_nothing(
    world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profiles = [track(world, i) for i in range(3)]
    world.profiles[profiles[1].slug].behaviour = "garbage"
    run = services.sync_run_execute(
        kind=SyncRun.Kind.FULL, profiles=profiles, client=doctolib_client
    )
    assert run.status == SyncRun.Status.PARTIAL
    assert (run.profiles_ok, run.profiles_failed) == (2, 1)
    assert run.requests == doctolib_client.requests_sent
    assert run.changes > 0
    failed = run.results.get(ok=False)
    assert failed.profile == profiles[1]
    assert "not JSON" in failed.error
    profiles[1].refresh_from_db()
    assert profiles[1].status == Centre.Status.ERROR

    world.profiles[profiles[1].slug].behaviour = "ok"
    services.sync_run_execute(kind=SyncRun.Kind.FULL, profiles=profiles, client=doctolib_client)
    again = services.sync_run_execute(
        kind=SyncRun.Kind.FULL, profiles=profiles, client=doctolib_client
    )
    assert again.status == SyncRun.Status.SUCCEEDED
    assert again.changes == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_syncs_sharing_a_new_speciality_both_succeed(
    world: FakeWorld, doctolib: object
) -> None:
    """Two workers inserting the same new speciality at once must not fail either profile."""
    import threading

    from aletheia.doctolib.client import ClientConfig

    slugs = [s for s, p in world.profiles.items()][:4]
    for slug in slugs:  # every profile now carries the same, new speciality
        world.profiles[slug].booking["data"]["specialities"].append(
            {"id": 4242, "name": "Nouvelle", "kind": "medical"}
        )
    profiles = [Centre.objects.create(slug=s) for s in slugs]
    barrier = threading.Barrier(len(profiles))
    outcomes: list[services.ProfileOutcome] = []

    def work(profile: Centre) -> None:
        client = DoctolibClient(ClientConfig(base_url=doctolib.url, user_agent="t"))  # type: ignore[attr-defined]
        booking = client.booking(profile.slug)
        barrier.wait()
        try:
            services.catalog_apply(profile=profile, booking=booking, now=NOW)
            outcomes.append(services.ProfileOutcome(profile=profile, ok=True))
        finally:
            client.close()
            connection.close()

    threads = [threading.Thread(target=work, args=(p,)) for p in profiles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == len(profiles)


def test_an_unexpected_error_fails_the_profile_not_the_run(
    world: FakeWorld, doctolib_client: DoctolibClient, monkeypatch
) -> None:
    profiles = [track(world, i) for i in range(2)]

    def broken(**kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(services.catalog, "catalog_apply", broken)
    run = services.sync_run_execute(
        kind=SyncRun.Kind.PROFILES, profiles=profiles, client=doctolib_client
    )
    assert run.status == SyncRun.Status.FAILED
    assert run.results.count() == 2
    assert {r.error for r in run.results.all()} == {"internal error: RuntimeError: bug"}


def test_slots_already_past_do_not_count() -> None:
    from aletheia.doctolib.client import AvailabilityWindow
    from aletheia.doctolib.parsing import PARIS

    evening = datetime(2026, 11, 27, 22, 0, tzinfo=PARIS)
    morning = evening.replace(hour=9)
    tomorrow = morning + timedelta(days=1)
    figures = services.snapshot_from_window(
        AvailabilityWindow(slots=(morning, tomorrow), next_slot=morning, reason=""), now=evening
    )
    assert figures["next_slot"] == tomorrow
    assert figures["slots_7"] == 1
    only_past = services.snapshot_from_window(
        AvailabilityWindow(slots=(morning,), next_slot=morning, reason=""), now=evening
    )
    assert (only_past["status"], only_past["next_slot"]) == ("none", None)
