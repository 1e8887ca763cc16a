"""Fixtures: a local Doctolib-shaped server and clients pointed at it."""

import os
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from django.core.cache import cache

from aletheia.catalog.services.state import data_changed
from aletheia.doctolib.client import ClientConfig, DoctolibClient
from aletheia.doctolib.throttle import CircuitBreaker
from fakedoctolib import FakeDoctolibServer, FakeWorld, demo_world

TODAY = date(2026, 11, 27)


class RecordedSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def world() -> FakeWorld:
    return demo_world(6, seed=11, today=TODAY)


@pytest.fixture
def doctolib(world: FakeWorld) -> Iterator[FakeDoctolibServer]:
    with FakeDoctolibServer(world) as server:
        yield server


@pytest.fixture
def sleeps() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def breaker() -> CircuitBreaker:
    return CircuitBreaker(cache, threshold=3, cooldown=60, key=f"test:{uuid.uuid4().hex}")


@pytest.fixture
def doctolib_client(
    doctolib: FakeDoctolibServer, sleeps: RecordedSleep, breaker: CircuitBreaker
) -> Iterator[DoctolibClient]:
    config = ClientConfig(
        base_url=doctolib.url, user_agent="aletheia-test-key", timeout=0.5, backoff_base=0.01
    )
    http = DoctolibClient(config, breaker=breaker, sleep=sleeps)
    yield http
    http.close()


@pytest.fixture(autouse=True)
def _isolated_doctolib_settings(settings, doctolib: FakeDoctolibServer) -> None:
    """Code that builds its client from settings talks to this test's server and circuit."""
    settings.DOCTOLIB_BASE_URL = doctolib.url
    settings.DOCTOLIB_CIRCUIT_KEY = f"test:{uuid.uuid4().hex}"
    settings.DOCTOLIB_RATE_PER_SECOND = 0
    settings.DOCTOLIB_TIMEOUT = 0.5
    settings.DOCTOLIB_MAX_RETRIES = 1
    data_changed()  # no cached rendering from an earlier test


@pytest.fixture
def staff_client(client):
    """A Django test client logged in as a staff member."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("ana", password="pw-for-tests-1", is_staff=True)
    client.force_login(user)
    return client


# Debian's Chromium (Playwright's own download is not used); on GitHub's runners .ci/run points
# ALETHEIA_CHROMIUM at their Google Chrome.
CHROMIUM = os.environ.get("ALETHEIA_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def browser():
    """Headless Debian Chromium driven by Playwright."""
    import os

    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop shares the test's thread
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()
