"""Alerts: recorded when a sync changes a state or a divergence, sent as one digest per user
per period, never twice for the same situation."""

from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from aletheia.alerts.models import Alert, CentreFollow
from aletheia.alerts.services import digests_send
from aletheia.catalog import services
from aletheia.catalog.models import Centre, Expectation, SyncRun
from aletheia.doctolib.client import DoctolibClient
from aletheia.doctolib.parsing import PARIS
from fakedoctolib import FakeWorld
from tests.doctolib_fakes import TODAY

pytestmark = pytest.mark.django_db
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 8, 0, tzinfo=PARIS)


def sync(centres: list[Centre], client: DoctolibClient, at: datetime) -> None:
    services.sync_run_execute(
        kind=SyncRun.Kind.FULL, profiles=centres, client=client, now=services.fixed_clock(at)
    )


@pytest.fixture
def follower(world: FakeWorld) -> tuple[object, Centre]:
    user = get_user_model().objects.create_user("ana", "ana@example.org", "pw-for-tests-1")
    centre = Centre.objects.create(slug=next(iter(world.profiles)), label="Centre A")
    CentreFollow.objects.create(user=user, centre=centre)
    CentreFollow.objects.update(since=NOW - timedelta(days=1))  # followed before these syncs
    return user, centre


def test_a_blocked_centre_is_emailed_once_then_its_recovery(
    follower, world: FakeWorld, doctolib_client: DoctolibClient, settings
) -> None:
    settings.ALETHEIA_ALERT_PERIOD = timedelta(hours=1)
    _, centre = follower
    fake = world.profiles[centre.slug]
    sync([centre], doctolib_client, NOW)
    fake.behaviour = "blocked"
    sync([centre], doctolib_client, NOW + timedelta(minutes=10))
    assert digests_send(now=NOW + timedelta(minutes=20)) == 1
    [email] = mail.outbox
    assert email.to == ["ana@example.org"]
    assert "Centre A" in email.body
    assert "Bloqué" in email.body or "bloqué" in email.body

    # still blocked: the situation did not change, nothing more is sent, ever
    sync([centre], doctolib_client, NOW + timedelta(minutes=30))
    assert digests_send(now=NOW + timedelta(hours=3)) == 0
    assert len(mail.outbox) == 1

    # it recovers: one more email, after the period
    fake.behaviour = "ok"
    sync([centre], doctolib_client, NOW + timedelta(hours=4))
    assert digests_send(now=NOW + timedelta(hours=4, minutes=5)) == 1
    assert "bloqué" in mail.outbox[1].body.lower()


def test_at_most_one_digest_per_period_and_flapping_is_not_news(
    follower, world: FakeWorld, doctolib_client: DoctolibClient, settings
) -> None:
    settings.ALETHEIA_ALERT_PERIOD = timedelta(hours=1)
    _, centre = follower
    fake = world.profiles[centre.slug]
    sync([centre], doctolib_client, NOW)
    fake.behaviour = "garbage"
    sync([centre], doctolib_client, NOW + timedelta(minutes=1))
    assert digests_send(now=NOW + timedelta(minutes=2)) == 1
    fake.behaviour = "blocked"
    sync([centre], doctolib_client, NOW + timedelta(minutes=3))
    assert digests_send(now=NOW + timedelta(minutes=4)) == 0  # within the period: waits
    fake.behaviour = "garbage"
    sync([centre], doctolib_client, NOW + timedelta(minutes=5))
    # error -> blocked -> error within the period: back where it was, nothing to say
    assert digests_send(now=NOW + timedelta(hours=2)) == 0
    assert len(mail.outbox) == 1


def test_divergences_opening_and_resolving_are_alerts(
    follower, world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    _, centre = follower
    Expectation.objects.create(
        profile=centre, kind=Expectation.Kind.PRACTITIONER_LISTED, doctolib_id=1, label="Dr X"
    )
    sync([centre], doctolib_client, NOW)
    opened = Alert.objects.get(kind=Alert.Kind.DIVERGENCE)
    assert opened.after == "open"
    assert "Dr X" in opened.message()
    Expectation.objects.all().delete()
    sync([centre], doctolib_client, NOW + timedelta(hours=1))
    assert Alert.objects.filter(kind=Alert.Kind.DIVERGENCE, after="resolved").count() == 1


def test_alerts_page_lists_alerts_and_chooses_centres(
    staff_client: Client, world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    centres = [Centre.objects.create(slug=s, label=f"C{i}") for i, s in enumerate(world.profiles)]
    world.profiles[centres[0].slug].behaviour = "blocked"
    sync(centres[:2], doctolib_client, NOW)
    html = staff_client.get("/dashboard/alerts/").content.decode()
    assert "C0" in html
    staff_client.post("/dashboard/alerts/", {"centre": [centres[1].pk]})
    assert list(CentreFollow.objects.values_list("centre_id", flat=True)) == [centres[1].pk]


def test_digests_are_written_in_the_language_chosen_on_the_alerts_page(
    follower, world: FakeWorld, doctolib_client: DoctolibClient, client: Client
) -> None:
    user, centre = follower
    client.force_login(user)
    client.cookies["django_language"] = "en"
    client.post("/dashboard/alerts/", {"centre": [centre.pk]})
    sync([centre], doctolib_client, NOW)
    world.profiles[centre.slug].behaviour = "blocked"
    sync([centre], doctolib_client, NOW + timedelta(minutes=10))
    CentreFollow.objects.update(since=NOW - timedelta(days=1))
    assert digests_send(now=NOW + timedelta(minutes=20)) == 1
    assert "Here is what changed" in mail.outbox[0].body
    assert "blocked" in mail.outbox[0].body
