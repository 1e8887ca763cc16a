"""The edge as a client meets it: the real nginx serving the config ops renders, in front of an
upstream that sends Django's own security headers."""

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ops.edge import nginx
from ops.server import environments, target
from ops.server.settings import ServerSettings
from tests.helpers import free_port, self_signed_certificate


class DjangoLikeUpstream(BaseHTTPRequestHandler):
    """Answers like Django behind the proxy: its own HSTS, nosniff, frame and referrer headers."""

    def do_GET(self) -> None:
        body = b"hello"
        self.send_response(200)
        self.send_header("Strict-Transport-Security", "max-age=3600")
        self.send_header("X-Frame-Options", "SAMEORIGIN")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[tuple[str, int]]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), DjangoLikeUpstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    http, https = free_port(), free_port()
    server = ServerSettings.from_environment(
        {
            "ALETHEIA_SERVER_ROOT": str(tmp_path),
            "ALETHEIA_NETWORK": "host",
            "ALETHEIA_STATIC_DIR": str(tmp_path),
        }
    )
    prod = target.resolve("prod", server)
    cert, key = nginx.certificate(prod.environment, server)
    self_signed_certificate(cert, key, nginx.host_name(prod.environment))
    files = nginx.write_templates(
        prod.environment, server, nginx.NginxPorts(http, https), upstream.server_port
    )
    nginx.swap_active(files, "full")
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; daemon off; events {{}}\n"
        f"http {{ access_log off; include {server.nginx_dir}/*.conf; }}\n"
    )
    process = subprocess.Popen(
        ["nginx", "-p", str(tmp_path), "-c", str(conf)], stderr=subprocess.PIPE
    )
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", https), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield nginx.host_name(prod.environment), https
    finally:
        process.terminate()
        process.wait(timeout=10)
        upstream.shutdown()


def fetch(host: str, port: int, path: str = "/") -> list[str]:
    result = subprocess.run(
        [
            "curl",
            "-sk",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--resolve",
            f"{host}:{port}:127.0.0.1",
            f"https://{host}:{port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    return [line.strip() for line in result.stdout.splitlines() if ":" in line]


def test_each_security_header_is_sent_once_with_nginx_s_value(edge: tuple[str, int]) -> None:
    headers = fetch(*edge)
    for name, value in nginx.SECURITY_HEADERS.items():
        sent = [line for line in headers if line.lower().startswith(name.lower() + ":")]
        assert sent == [f"{name}: {value.strip(chr(34))}"], (name, headers)
    assert [h for h in headers if h.lower().startswith("server:")] == [
        "Server: nginx"
    ]  # no version


def test_only_modern_tls_is_offered(edge: tuple[str, int]) -> None:
    host, port = edge

    def handshake(*options: str) -> bool:
        result = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", host, *options],
            input="",
            capture_output=True,
            text=True,
            timeout=20,
        )
        return "Cipher is (NONE)" not in result.stdout and result.returncode == 0

    assert handshake("-tls1_3")
    assert handshake("-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert not handshake("-tls1_2", "-cipher", "AES128-SHA")  # no forward secrecy
    assert not handshake("-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")  # CBC
    assert not handshake("-tls1_1")


def test_the_matrix_environments_all_render_the_hardened_tls(tmp_path: Path) -> None:
    server = ServerSettings.from_environment({"ALETHEIA_SERVER_ROOT": str(tmp_path)})
    for environment in environments.server_environments().values():
        text = nginx.render_full(environment, server, nginx.NginxPorts())
        assert text.count("server_tokens off;") == 2
        assert "ssl_session_tickets off;" in text


def status_of(host: str, port: int, path: str) -> str:
    return subprocess.run(
        [
            "curl",
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--resolve",
            f"{host}:{port}:127.0.0.1",
            f"https://{host}:{port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout


def test_password_resets_and_logins_are_rate_limited_per_client(edge: tuple[str, int]) -> None:
    codes = [status_of(*edge, "/accounts/password_reset/") for _ in range(12)]
    assert codes[:6] == ["200"] * 6  # a person retrying is never stopped
    assert codes[-1] == "429"  # a script is
    assert status_of(*edge, "/dashboard/") == "200"  # the rest of the site is not limited


TESTSSL_FAILURES = ("NOT ok", "VULNERABLE")


def test_testssl_finds_nothing_wrong_with_protocols_ciphers_and_headers(
    edge: tuple[str, int], tmp_path: Path
) -> None:
    if not shutil.which("testssl"):
        pytest.fail("testssl.sh is needed: apt-get install testssl.sh (.ci/run installs it)")
    host, port = edge
    report = tmp_path / "testssl.txt"
    subprocess.run(
        [
            "testssl",
            "--quiet",
            "--color",
            "0",
            "--warnings",
            "off",
            "--fast",
            "--protocols",
            "--std",
            "--headers",
            "--vulnerable",
            "--ip",
            "127.0.0.1",
            "--logfile",
            str(report),
            f"https://{host}:{port}/",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = report.read_text()
    print(text)  # shown when the test fails
    assert "Strict Transport Security" in text  # it did run, headers included
    flagged = [
        line.strip() for line in text.splitlines() if any(word in line for word in TESTSSL_FAILURES)
    ]
    assert flagged == []
