import pytest
from django.core.cache import cache
from django.test import Client

from aletheia.core import tasks
from aletheia.core.health import HEARTBEAT_CACHE_KEY

pytestmark = pytest.mark.django_db


def test_home_is_french_by_default(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="fr">' in html
    assert "La source de vérité" in html


def test_language_switcher_turns_the_site_english(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"}, follow=True)
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "The source of truth" in html
    assert '<option value="fr">Français</option>' in html


def test_heartbeat_task_is_visible_in_healthz(client: Client) -> None:
    cache.delete(HEARTBEAT_CACHE_KEY)
    stamp = tasks.heartbeat.delay().get()
    assert client.get("/healthz").json()["beat_last_seen"] == stamp


def test_browser_language_does_not_override_french_first(client: Client) -> None:
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="fr">' in response.content.decode()
    assert response["Content-Language"] == "fr"
