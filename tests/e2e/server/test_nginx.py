"""nginx in front of the whole single server (`server`, tests/e2e/server/conftest.py): host
names, TLS, basic auth, the 503 placeholder, static files and prod's rate limit."""

import time

import pytest

from tests.e2e.conftest import Server, host, make_certificate

pytestmark = pytest.mark.e2e


def test_each_host_serves_its_release_through_nginx(server: Server) -> None:
    server.ensure_deployed("prod", "v1.0")
    server.ensure_deployed("staging", "feature")
    server.settle("prod", 200)
    server.settle("staging", 401)
    response = server.curl("prod", "/healthz")
    assert response.status == 200, (response.headers, response.body[:500])
    assert response.json()["release"] == server.shas["v1.0"]
    response = server.curl("staging", "/healthz")
    assert response.status == 401
    assert "basic" in response.headers.get("www-authenticate", "").lower()
    response = server.curl("staging", "/healthz", auth=True)
    assert response.status == 200
    assert response.json()["release"] == server.shas["feature"]
    response = server.curl("prod", "/", https=False)
    assert response.status == 301
    assert response.headers["location"] == f"https://{host('prod')}:{server.https_port}/"
    response = server.curl("prod", "/static/core/aletheia.css")
    assert response.status == 200
    assert "max-age" in response.headers.get("cache-control", "")
    assert "strict-transport-security" in response.headers


def test_the_world_reads_only_the_status_of_healthz(server: Server) -> None:
    server.ensure_deployed("prod", "v1.0")
    server.settle("prod", 200)
    public = server.curl("prod", "/healthz", token=False)
    assert public.status == 200
    assert public.json() == {"status": "ok"}  # no release, no hosts, no errors
    # each security header once, nginx's value; no version in the Server header
    page = server.curl("prod", "/accounts/login/", token=False)
    assert page.status == 200
    assert (
        page.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    )
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["server"] == "nginx"
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_dev_shows_the_placeholder_until_activated(server: Server) -> None:
    server.without_certificate("dev")
    response = server.curl("dev", "/", https=False)
    assert response.status == 503
    assert response.headers.get("retry-after") == "120"
    assert "Deployment in progress" in response.body
    refused = server.ops("nginx-activate", "dev", check=False)
    assert refused.returncode == 2
    assert "no certificate" in refused.stderr
    make_certificate(server.root, host("dev"))
    server.make("nginx-activate", "ENV=dev")
    server.settle("dev", 401)
    response = server.curl("dev", "/healthz")
    assert response.status == 401, (
        response.status,
        response.headers,
        response.body[:300],
        sorted(p.name for p in server.conf_dir.iterdir()),
        "",
        (server.root / "nginx-run" / "logs" / "error.log").read_text()[-2000:],
    )
    response = server.curl("dev", "/healthz", auth=True)
    assert response.status == 200
    assert response.json()["release"] == server.shas["develop"]


def test_prod_is_rate_limited_beyond_the_burst(server: Server) -> None:
    server.ensure_deployed("prod", "v1.0")
    server.settle("prod", 200)
    time.sleep(2.5)  # a whole burst to spend: it refills at 10 requests a second
    statuses = [server.curl("prod", "/healthz").status for _ in range(60)]
    assert 429 in statuses
    assert statuses.count(200) >= 20
    server.settle("prod", 200)  # the next test finds prod answering again
