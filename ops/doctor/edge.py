"""The doctor's checks of the edge: nginx's config, the certificate, and what a visitor gets
through nginx (/healthz and a static file, with the real Host and SNI)."""

import base64
import http.client
import socket
import ssl
import time
from pathlib import Path

from ops.doctor.context import FAIL, PASS, WARN, Context
from ops.edge import nginx
from ops.server.settings import ServerSettings

CERTIFICATE_WARN_DAYS = 14


def check_nginx(ctx: Context) -> tuple[str, str]:
    result = ctx.runner.run(
        list(ctx.settings.nginx_test), check=False, capture=True, mutating=False
    )
    if result.returncode != 0:
        return FAIL, "nginx -t: " + (result.stderr or result.stdout).strip().splitlines()[-1][:200]
    active = ctx.settings.nginx_dir / f"aletheia-{ctx.environment.name}.conf"
    full = active.with_name(active.name + ".full")
    if not active.exists():
        return FAIL, f"nginx -t ok, but {active} is missing (deploy first)"
    if not full.exists() or active.read_text() != full.read_text():
        return (
            WARN,
            f"nginx -t ok; the 503 placeholder is active (make nginx-activate ENV={ctx.environment.name})",
        )
    return PASS, "nginx -t ok; the full config is active"


def certificate_days_left(ctx: Context, certificate: Path) -> int | None:
    result = ctx.runner.run(
        ["openssl", "x509", "-enddate", "-noout", "-in", str(certificate)],
        check=False,
        capture=True,
        mutating=False,
    )
    if result.returncode != 0 or "=" not in result.stdout:
        return None
    not_after = time.mktime(
        time.strptime(result.stdout.split("=", 1)[1].strip(), "%b %d %H:%M:%S %Y %Z")
    )
    return int((not_after - time.mktime(time.gmtime())) // 86400)


def check_certificate(ctx: Context) -> tuple[str, str]:
    folder = ctx.settings.cert_dir / nginx.host_name(ctx.environment)
    missing = [
        p.name for p in (folder / "fullchain.pem", folder / "privkey.pem") if not p.is_file()
    ]
    if missing:
        return FAIL, f"missing in {folder}: {', '.join(missing)}"
    days = certificate_days_left(ctx, folder / "fullchain.pem")
    if days is None:
        return FAIL, f"{folder / 'fullchain.pem'} is not a readable certificate"
    if days < 0:
        return FAIL, f"{nginx.host_name(ctx.environment)}: expired {-days} days ago"
    detail = f"{nginx.host_name(ctx.environment)}: {days} days to expiry"
    return (WARN if days < CERTIFICATE_WARN_DAYS else PASS), detail


STATIC_PROBE = "/static/core/aletheia.css"  # a file every release ships
DOCTOR_USER = "aletheia-doctor"  # its password: ServerSettings.doctor_credentials (server-init)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to nginx's address with the environment's host name as SNI and Host."""

    def __init__(self, address: str, host: str, port: int, timeout: float) -> None:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = (
            False,
            ssl.CERT_NONE,
        )  # the certificate row checks it
        super().__init__(host, port, timeout=timeout, context=context)
        self._address, self._tls = address, context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def fetch_through_nginx(ctx: Context, path: str) -> int:
    """The status nginx answers for `path` of this environment, as a browser would ask it."""
    settings, host = ctx.settings, nginx.host_name(ctx.environment)
    address, port = nginx_address(settings)
    connection = _PinnedHTTPS(address, host, port, 10)
    headers = {"Host": host, "User-Agent": "aletheia-doctor"}
    credentials = doctor_credentials(settings)
    if ctx.environment.proxy_auth == "basic" and credentials:
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def nginx_address(settings: ServerSettings) -> tuple[str, int]:
    """Where this host reaches nginx's HTTPS: ALETHEIA_NGINX_ADDRESS, `host` (on nginx's
    HTTPS port) or `host:port` (a container's port published elsewhere)."""
    host, _, port = settings.nginx_address.partition(":")
    return host, int(port) if port else settings.nginx_https_port


def doctor_credentials(settings: ServerSettings) -> str:
    path = settings.doctor_credentials
    return path.read_text().strip() if path.is_file() else ""


def check_through_nginx(ctx: Context) -> tuple[str, str]:
    """What a visitor gets: /healthz and a static file through nginx, with the real Host."""
    if ctx.target.current_release() is None:
        return FAIL, "nothing deployed yet"
    files = nginx.paths(ctx.environment, ctx.settings)
    if not files["active"].exists() or (
        files["full"].exists() and files["active"].read_text() != files["full"].read_text()
    ):
        return WARN, "not checked: the full nginx config is not active"
    where = "{}:{}".format(*nginx_address(ctx.settings))
    try:
        answers = {path: fetch_through_nginx(ctx, path) for path in ("/healthz", STATIC_PROBE)}
    except OSError as exc:
        return FAIL, f"nginx at {where} not answering: {exc}"
    said = ", ".join(f"{path} {status}" for path, status in answers.items())
    if all(status == 200 for status in answers.values()):
        return PASS, f"https://{nginx.host_name(ctx.environment)} via {where}: {said}"
    if set(answers.values()) == {401} and not doctor_credentials(ctx.settings):
        return WARN, (
            f"{said}: basic auth asked, and the doctor has no credentials "
            f"({ctx.settings.doctor_credentials}: make server-init writes them)"
        )
    hint = (
        f" (static files: is {ctx.settings.static_host_dir(ctx.environment.name)} readable by nginx?)"
        if answers[STATIC_PROBE] in (403, 404)
        else ""
    )
    return FAIL, f"{said}{hint}"
