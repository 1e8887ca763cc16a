"""The operations manager's flows in headless Chromium, against the local Doctolib server."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from aletheia.alerts.models import CentreFollow
from aletheia.alerts.services import digests_send
from aletheia.catalog import services
from aletheia.catalog.models import Agenda, Centre, SyncRun
from aletheia.doctolib.client import DoctolibClient
from fakedoctolib import FakeWorld

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def logged_in(browser: Browser, live_server, width: int = 1400) -> Page:
    get_user_model().objects.create_user("ana", "ana@example.org", "pw-for-tests-1", is_staff=True)
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")
    return page


def test_add_a_centre_by_url_choose_expectations_and_sync_now(
    live_server, browser: Browser, world: FakeWorld
) -> None:
    slug = next(iter(world.profiles))
    data = world.profiles[slug].booking["data"]
    keep, drop = data["practitioners"][0], data["practitioners"][-1]
    page = logged_in(browser, live_server)
    page.click("text=Suivre un centre")
    page.fill("#id_url", f"https://www.doctolib.fr/centre-de-sante/paris/{slug}?pid=practice-1")
    page.click("button[value=preview]")
    expect(page.locator("#preview h2")).to_have_text(data["profile"]["name_with_title"])
    expect(page.locator("#preview")).to_contain_text(keep["name_with_title"])
    if drop is not keep:
        page.uncheck(f"#preview input[name=practitioner][value='{drop['id']}']")
    page.click("button[value=save]")

    expect(page.locator(".alert.success")).to_contain_text("est suivi")
    centre = Centre.objects.get(slug=slug)
    expect(page.locator("#state .badge")).not_to_have_text("Jamais synchronisé")
    labels = set(centre.expectations.values_list("label", flat=True))
    assert keep["name_with_title"] in labels
    assert drop is keep or drop["name_with_title"] not in labels

    page.click("text=Attentes")
    page.check(f"#expectations input[name=practitioner][value='{drop['id']}']")
    page.click("#expectations button[type=submit]")
    expect(page.locator(".alert.success")).to_contain_text("Attentes enregistrées")
    assert centre.expectations.filter(doctolib_id=drop["id"]).exists()

    runs = SyncRun.objects.count()
    page.click("text=Synchroniser maintenant")
    expect(page.locator("#last-result")).to_contain_text("réussi")
    assert SyncRun.objects.count() == runs + 1


def test_a_blocked_centre_comes_first_with_distinct_slots_an_alert_once_and_english(
    live_server, browser: Browser, world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    centres = [
        Centre.objects.create(slug=s, label=f"Centre {i}") for i, s in enumerate(world.profiles)
    ]
    services.sync_run_execute(kind=SyncRun.Kind.FULL, profiles=centres, client=doctolib_client)
    world.profiles[centres[-1].slug].behaviour = "blocked"
    page = logged_in(browser, live_server)
    user = get_user_model().objects.get(username="ana")
    CentreFollow.objects.create(user=user, centre=centres[-1])
    services.sync_run_execute(kind=SyncRun.Kind.FULL, profiles=centres[-1:], client=doctolib_client)

    page.goto(f"{live_server.url}/dashboard/")
    first = page.locator("#centres tbody tr").first
    expect(first).to_contain_text(f"Centre {len(centres) - 1}")
    expect(first.locator(".badge")).to_have_text("Bloqué")
    expect(first).to_contain_text("403")
    expect(page.locator(".tile.state-blocked .tile-value")).to_have_text("1")

    # distinct slots per agenda, as the centre page shows them
    page.click("text=Centre 0")
    rows = page.locator("#agendas tbody tr")
    agendas = list(
        Agenda.objects.filter(profile=centres[0], present=True).order_by(
            "practitioner__name", "doctolib_id"
        )
    )
    expect(rows).to_have_count(len(agendas))
    for row, agenda in zip(rows.all(), agendas, strict=True):
        expect(row.locator("td").nth(4)).to_have_text(str(agenda.slots_7))

    # the alert: one email, never repeated while nothing changes
    later = timezone.now() + timedelta(minutes=1)
    assert digests_send(now=later) == 1
    assert digests_send(now=later + timedelta(hours=5)) == 0
    assert len(mail.outbox) == 1
    assert f"Centre {len(centres) - 1}" in mail.outbox[0].body
    page.click("text=Alertes")
    expect(page.locator("#alerts tbody tr").first).to_contain_text(f"Centre {len(centres) - 1}")

    page.select_option("#language-select", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.locator("#centres tbody tr").first.locator(".badge")).to_have_text("Blocked")
    expect(page.locator("#tiles")).to_contain_text("free slots in the next 7 days")


def test_at_390_px_nothing_overflows_and_log_out_is_reachable(
    live_server, browser: Browser, world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    centres = [
        Centre.objects.create(slug=s, label=f"Centre {i}") for i, s in enumerate(world.profiles)
    ]
    services.sync_run_execute(kind=SyncRun.Kind.FULL, profiles=centres, client=doctolib_client)
    page = logged_in(browser, live_server, width=390)
    for path in ("/dashboard/", f"/dashboard/centres/{centres[0].pk}/", "/dashboard/alerts/"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        logout = page.get_by_role("button", name="Se déconnecter")
        expect(logout).to_be_in_viewport()
