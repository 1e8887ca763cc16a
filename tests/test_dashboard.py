import csv
import io
import os
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from aletheia.catalog import services
from aletheia.catalog.models import Centre, Divergence, SyncRun
from aletheia.catalog.services.state import data_changed
from aletheia.dashboard.charts import Series, nice_ticks, step_chart
from aletheia.doctolib.client import DoctolibClient
from fakedoctolib import FakeWorld


def synced_centres(world: FakeWorld, client: DoctolibClient, count: int = 3) -> list[Centre]:
    profiles = [Centre.objects.create(slug=slug) for slug in list(world.profiles)[:count]]
    start = timezone.now() - timedelta(days=3)
    for day in range(4):
        moment = start + timedelta(days=day)
        world.today = moment.date()
        services.sync_run_execute(
            kind=SyncRun.Kind.FULL,
            profiles=profiles,
            client=client,
            now=services.fixed_clock(moment),
        )
    return profiles


@pytest.mark.django_db
def test_dashboard_requires_login(client: Client) -> None:
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_centre_page_shows_figures_divergences_and_charts(
    staff_client: Client, world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profile = synced_centres(world, doctolib_client, 1)[0]
    Divergence.objects.create(
        profile=profile,
        kind="booking_disabled",
        subject="agenda:1",
        detail="Dr Test: online booking disabled",
        opened_at=timezone.now(),
    )
    html = staff_client.get(f"/dashboard/centres/{profile.pk}/").content.decode()
    assert "Dr Test: online booking disabled" in html
    assert html.count('<svg class="chart"') == 2
    assert 'class="chart-line"' in html
    assert "Prochain créneau libre" in html  # French by default


@pytest.mark.django_db
def test_csv_export_opens_in_french_excel_and_lists_failing_centres(
    staff_client: Client, world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    profiles = synced_centres(world, doctolib_client, 2)
    blocked = Centre.objects.create(slug="blocked-centre", label="=HYPERLINK(evil)")
    world.profiles[profiles[0].slug].behaviour = "blocked"
    services.sync_run_execute(
        kind=SyncRun.Kind.FULL, profiles=[profiles[0], blocked], client=doctolib_client
    )
    response = staff_client.get("/dashboard/export.csv")
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:]), delimiter=";"))
    assert response["Content-Type"].startswith("text/csv")
    assert rows[0][:4] == ["Centre", "Ville", "Spécialité", "État"]
    names = [r[0] for r in rows[1:]]
    assert "'=HYPERLINK(evil)" in names  # a formula is never run
    assert str(profiles[0]) in names  # failing centres are listed
    assert {r[8] for r in rows[1:] if r[8]} <= {"oui", "non"}
    assert all(r[10].isdigit() for r in rows[1:])
    local = [r[9] for r in rows[1:] if r[9]]
    assert local
    assert all(len(v) == 16 and v[2] == "/" for v in local)  # dd/mm/yyyy hh:mm, local time


def test_step_chart_carries_values_forward_with_grid_hover_and_empty_state() -> None:
    start = date(2026, 11, 1)
    end = start + timedelta(days=29)
    values = [(start, 3.0), (start + timedelta(days=10), None), (start + timedelta(days=20), 8.0)]
    svg = step_chart([Series("<script>", "#000", values)], title="<b>", start=start, end=end)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert svg.count('class="chart-grid"') >= 3  # gridlines with their values
    assert ">4</text>" in svg  # axis values at round steps
    assert "3 (01/11/2026 \u2013 10/11/2026)</title>" in svg  # held until it changed
    assert svg.count("<title>") == 2  # one hover target per step, none for the gap
    assert "no data yet" in step_chart(
        [Series("x", "#000", [])], title="t", start=start, end=end, empty="no data yet"
    )
    flat = step_chart([Series("x", "#000", [(start, 0.0)])], title="t", start=start, end=end)
    assert ">1</text>" not in flat  # an all-zero series does not invent a 0-1 scale


def test_nice_ticks() -> None:
    assert nice_ticks(8) == [0, 2, 4, 6, 8]
    assert nice_ticks(95) == [0, 25, 50, 75, 100]
    assert nice_ticks(0) == [0]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dashboard_in_a_real_browser(
    live_server, browser: Browser, world: FakeWorld, doctolib_client: DoctolibClient, tmp_path
) -> None:
    profiles = synced_centres(world, doctolib_client, 3)
    get_user_model().objects.create_user("ana", password="pw-for-tests-1")
    page: Page = browser.new_page()
    page.goto(f"{live_server.url}/dashboard/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")

    expect(page.locator("h1")).to_have_text("La prise de rendez-vous en un coup d'œil")
    expect(page.locator("#centres tbody tr")).to_have_count(len(profiles))
    page.click(f"text={profiles[0]}")
    expect(page.locator("svg.chart path.chart-line").first).to_be_visible()
    expect(page.locator("#motives tbody tr").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "centre-fr.png"), full_page=True)

    page.select_option("#language-select", "en")
    expect(page.locator("#motives th").first).to_have_text("Speciality")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.screenshot(
        path=os.environ.get("ALETHEIA_SCREENSHOT", str(tmp_path / "centre-en.png")), full_page=True
    )


@pytest.mark.django_db
def test_overview_queries_do_not_grow_with_the_number_of_centres(
    staff_client: Client, world: FakeWorld, doctolib_client: DoctolibClient
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    synced_centres(world, doctolib_client, 2)
    data_changed()  # the cold path: no cached rendering
    with CaptureQueriesContext(connection) as two:
        staff_client.get("/dashboard/")
    synced_centres_more = [Centre.objects.create(slug=s) for s in list(world.profiles)[2:5]]
    services.sync_run_execute(
        kind=SyncRun.Kind.FULL, profiles=synced_centres_more, client=doctolib_client
    )
    data_changed()
    with CaptureQueriesContext(connection) as five:
        staff_client.get("/dashboard/")
    assert len(five.captured_queries) == len(two.captured_queries)
