"""Every page carries one Content-Security-Policy that forbids inline script and framing."""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/dashboard/", "/admin/login/"])
def test_pages_send_a_policy_without_inline_script(client: Client, path: str) -> None:
    client.force_login(User.objects.create_superuser("staff", password="x-very-long-password-1"))
    response = client.get(path, follow=True)
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy
    html = response.content.decode()
    # and the pages need no inline script to work: none is there
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html), path
    assert not re.search(r"\son[a-z]+=\"", html), path
