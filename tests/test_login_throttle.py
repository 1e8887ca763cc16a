"""Login throttling (django-axes): a password-guessing run is locked out, per username and
client address as nginx reports it, and the right password still works from elsewhere."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def log_in(client: Client, password: str, address: str) -> int:
    response = client.post(
        "/accounts/login/",
        {"username": "manager", "password": password},
        HTTP_X_REAL_IP=address,
    )
    return response.status_code


def test_five_wrong_passwords_lock_that_username_from_that_address() -> None:
    User.objects.create_user("manager", password="the-right-password-42")
    client = Client()
    assert [log_in(client, f"guess-{n}", "203.0.113.7") for n in range(5)] == [200] * 4 + [429]
    assert log_in(client, "the-right-password-42", "203.0.113.7") == 429  # locked, even right
    assert log_in(Client(), "the-right-password-42", "198.51.100.2") == 302  # elsewhere: fine


def test_a_success_resets_the_count() -> None:
    User.objects.create_user("manager", password="the-right-password-42")
    client = Client()
    assert [log_in(client, f"guess-{n}", "203.0.113.8") for n in range(4)] == [200] * 4
    assert log_in(client, "the-right-password-42", "203.0.113.8") == 302
    assert log_in(Client(), "guess-again", "203.0.113.8") == 200  # counting from zero again
