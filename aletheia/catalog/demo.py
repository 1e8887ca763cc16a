"""A demo dataset made by the real sync code against the local Doctolib-shaped server."""

from collections.abc import Callable
from datetime import datetime, time, timedelta
from time import monotonic

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from aletheia.catalog import services
from aletheia.catalog.models import Centre, Expectation, SyncRun
from aletheia.doctolib.client import ClientConfig, DoctolibClient
from aletheia.doctolib.parsing import PARIS
from fakedoctolib import FakeDoctolibServer, demo_world

DEMO_USER = ("demo", "demo")


def advancing_clock(moment: datetime) -> Callable[[], datetime]:
    """A clock that starts at `moment` and runs at real speed (a replayed day's runs last
    as long as they took, not 0 s)."""
    started = monotonic()
    return lambda: moment + timedelta(seconds=monotonic() - started)


@transaction.atomic
def demo_profiles_create(count: int) -> list[Centre]:
    world = demo_world(count)
    profiles = []
    for index, (slug, fake) in enumerate(world.profiles.items()):
        profile = Centre.objects.create(
            slug=slug, label=fake.booking["data"]["profile"]["name_with_title"]
        )
        data = fake.booking["data"]
        first = data["practitioners"][0]
        Expectation.objects.create(
            profile=profile,
            kind=Expectation.Kind.PRACTITIONER_LISTED,
            doctolib_id=first["id"],
            label=first["name_with_title"],
        )
        first_motive = data["visit_motives"][0]
        Expectation.objects.create(
            profile=profile,
            kind=Expectation.Kind.MOTIVE_OPEN_TO_NEW,
            doctolib_id=first_motive["id"],
            label=first_motive["name"],
        )
        if index == 0:  # a practitioner the group expects but Doctolib no longer lists
            Expectation.objects.create(
                profile=profile,
                kind=Expectation.Kind.PRACTITIONER_LISTED,
                doctolib_id=799_999,
                label="Dr Claire FONTAINE",
            )
        profiles.append(profile)
    return profiles


def demo_seed(*, count: int, days: int, progress: Callable[[str], None] = lambda _: None) -> int:
    """Track `count` demo centres and sync them once a day for `days` days up to now."""
    profiles = demo_profiles_create(count)
    world = demo_world(count)
    today = timezone.localdate()
    runs = 0
    with FakeDoctolibServer(world) as server:
        client = DoctolibClient(ClientConfig(base_url=server.url, user_agent="aletheia-demo"))
        for offset in range(days, -1, -1):
            day = today - timedelta(days=offset)
            world.today = day
            moment = datetime.combine(day, time(8, 0), tzinfo=PARIS)
            if offset == 0:
                moment = timezone.now()
            run = services.sync_run_execute(
                kind=SyncRun.Kind.FULL,
                profiles=profiles,
                client=client,
                now=advancing_clock(moment),
            )
            runs += 1
            progress(
                f"{day}: {run.profiles_ok} centres, {run.requests} requests, {run.changes} changes"
            )
        client.close()
    user_model = get_user_model()
    if not user_model.objects.filter(username=DEMO_USER[0]).exists():
        user_model.objects.create_superuser(DEMO_USER[0], "demo@example.invalid", DEMO_USER[1])
    return runs
