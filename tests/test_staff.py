"""Running Aletheia without the admin: add a centre by URL, expectations by name, pause,
sync now, the breaker."""

import contextlib

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils.timezone import now as centre_now

from aletheia.catalog.models import Centre, Expectation, SyncRun
from aletheia.catalog.services.centres import slug_from_url
from aletheia.doctolib.errors import CircuitOpen
from aletheia.doctolib.factory import circuit_breaker_from_settings
from fakedoctolib import FakeWorld

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("https://www.doctolib.fr/centre-de-sante/paris/centre-x-15e", "centre-x-15e"),
        ("https://www.doctolib.fr/centre-de-sante/paris/centre-x?pid=practice-1", "centre-x"),
        ("www.doctolib.fr/dentiste/lyon/cabinet-y/", "cabinet-y"),
        ("https://partners.doctolib.fr/booking/centre-z.json", "centre-z"),
        ("  centre-x-15e ", "centre-x-15e"),
    ],
)
def test_slug_from_url(text: str, slug: str) -> None:
    assert slug_from_url(text) == slug


@pytest.mark.parametrize("text", ["https://evil.example/centre-x", "not a url", ""])
def test_slug_from_url_refuses_other_addresses(text: str) -> None:
    with pytest.raises(ValueError):
        slug_from_url(text)


def test_add_a_centre_by_url_with_a_preview_then_expectations_by_name(
    staff_client: Client, world: FakeWorld
) -> None:
    slug = next(iter(world.profiles))
    data = world.profiles[slug].booking["data"]
    url = f"https://www.doctolib.fr/centre-de-sante/paris/{slug}"
    preview = staff_client.post("/dashboard/centres/add/", {"url": url, "step": "preview"})
    html = preview.content.decode()
    assert data["practitioners"][0]["name_with_title"] in html
    assert not Centre.objects.exists()  # nothing saved by a preview

    first, motive = data["practitioners"][0], data["visit_motives"][0]
    response = staff_client.post(
        "/dashboard/centres/add/",
        {
            "slug": slug,
            "step": "save",
            "label": "Mon centre",
            "practitioner": [first["id"]],
            "motive": [motive["id"]],
        },
    )
    centre = Centre.objects.get(slug=slug)
    assert response["Location"].startswith(f"/dashboard/centres/{centre.pk}/?run=")
    assert centre.label == "Mon centre"
    assert {(e.kind, e.label) for e in centre.expectations.all()} == {
        (Expectation.Kind.PRACTITIONER_LISTED, first["name_with_title"]),
        (Expectation.Kind.MOTIVE_OPEN_TO_NEW, motive["name"]),
    }
    assert centre.state != Centre.State.NEVER  # the first sync ran (eager Celery here)

    again = staff_client.post("/dashboard/centres/add/", {"url": url, "step": "preview"})
    assert "déjà suivi" in again.content.decode()

    second = data["practitioners"][-1]
    staff_client.post(
        f"/dashboard/centres/{centre.pk}/expectations/", {"practitioner": [second["id"]]}
    )
    assert list(centre.expectations.values_list("doctolib_id", flat=True)) == [second["id"]]


def test_an_unknown_page_is_refused_in_the_preview(staff_client: Client) -> None:
    url = "https://www.doctolib.fr/centre-de-sante/paris/nowhere-at-all"
    html = staff_client.post("/dashboard/centres/add/", {"url": url}).content.decode()
    assert "Doctolib n\u2019a pas affiché cette page" in html
    assert not Centre.objects.exists()


def test_pause_resume_and_sync_now(staff_client: Client, world: FakeWorld) -> None:
    centre = Centre.objects.create(slug=list(world.profiles)[1])
    staff_client.post(f"/dashboard/centres/{centre.pk}/sync/")
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.SUCCEEDED
    html = staff_client.get(f"/dashboard/centres/{centre.pk}/").content.decode()
    assert 'id="last-result"' in html

    staff_client.post(f"/dashboard/centres/{centre.pk}/follow/", {"active": "0"})
    centre.refresh_from_db()
    assert not centre.active
    assert str(centre) not in staff_client.get("/dashboard/").content.decode()
    staff_client.post(f"/dashboard/centres/{centre.pk}/follow/", {"active": "1"})
    centre.refresh_from_db()
    assert centre.active


def test_the_breaker_is_shown_and_reset(staff_client: Client) -> None:
    breaker = circuit_breaker_from_settings()
    for _ in range(breaker.threshold - 1):
        breaker.record_block()
    with contextlib.suppress(CircuitOpen):  # opening the circuit raises, as in a sync
        breaker.record_block()
    assert 'state-blocked">ouvert' in staff_client.get("/dashboard/doctolib/").content.decode()
    staff_client.post("/dashboard/doctolib/")
    assert breaker.state() == (None, 0)


def test_staff_pages_are_for_staff_only(client: Client) -> None:
    user = get_user_model().objects.create_user("bob", password="pw-for-tests-1")
    client.force_login(user)
    for url in ("/dashboard/centres/add/", "/dashboard/doctolib/"):
        assert client.get(url).status_code == 302


def test_a_running_sync_is_followed_until_it_ends(staff_client: Client, world: FakeWorld) -> None:
    centre = Centre.objects.create(slug=next(iter(world.profiles)))
    running = SyncRun.objects.create(kind="full", started_at=centre_now(), profiles_total=1)
    html = staff_client.get(f"/dashboard/centres/{centre.pk}/", {"run": running.pk}).content
    assert b'http-equiv="refresh"' in html
    assert b'id="sync-running"' in html
    running.status = SyncRun.Status.SUCCEEDED
    running.save()
    html = staff_client.get(f"/dashboard/centres/{centre.pk}/", {"run": running.pk}).content
    assert b'http-equiv="refresh"' not in html
