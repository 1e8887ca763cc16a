"""nginx configs per environment, rendered from the matrix and the server settings.

aletheia-ENV.conf.full (the proxy), aletheia-ENV.conf.temp (503 "deployment in progress"),
aletheia-ENV.conf (the active one: a copy of one of them), aletheia-http.conf (http level:
the rate-limit zone).
"""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ops.core.runner import Runner, StepFailed
from ops.server import slots
from ops.server.envfile import DEFAULT_PORT
from ops.server.environments import Environment
from ops.server.settings import ServerSettings
from ops.server.target import Target

HTTP_SNIPPET = """\
# Aletheia, http level (loaded once for every environment).
limit_req_zone $binary_remote_addr zone=general:10m rate={rate};
# logins and password resets, every environment: 10 a minute per client address
limit_req_zone $binary_remote_addr zone=accounts:10m rate=10r/m;
limit_req_status 429;
"""


@dataclass(frozen=True)
class NginxPorts:
    http: int = 80
    https: int = 443

    @classmethod
    def of(cls, settings: ServerSettings) -> "NginxPorts":
        return cls(settings.nginx_http_port, settings.nginx_https_port)


def host_name(environment: Environment) -> str:
    return environment.host.split(":")[0]


def certificate(environment: Environment, settings: ServerSettings) -> tuple[Path, Path]:
    directory = settings.cert_dir / host_name(environment)
    return directory / "fullchain.pem", directory / "privkey.pem"


def has_certificate(environment: Environment, settings: ServerSettings) -> bool:
    return all(path.is_file() for path in certificate(environment, settings))


# How long nginx keeps an address Docker's DNS gave it (shared network, swarm): a swarm web
# task keeps serving a little longer than this after it leaves the DNS (ops/runtimes/stack.py).
RESOLVER_VALID_SECONDS = 10


def upstream(
    environment: Environment, settings: ServerSettings, port: int, slot: str | None = None
) -> str:
    """The live web slot's address ({slot}: blue or green; the legacy single web has none)."""
    pattern = settings.upstream if slot else settings.upstream.replace("-{slot}", "")
    return pattern.format(env=environment.name, port=port, slot=slot or "")


def _redirect(ports: NginxPorts) -> str:
    suffix = "" if ports.https == 443 else f":{ports.https}"
    return f"https://$host{suffix}$request_uri"


def _redirect_location(ports: NginxPorts) -> str:
    return f"    location / {{ return 301 {_redirect(ports)}; }}\n"


def _http_server(environment: Environment, ports: NginxPorts, body: str) -> str:
    return f"""server {{
    listen {ports.http};
    server_name {host_name(environment)};
    server_tokens off;
    location /.well-known/acme-challenge/ {{ root /var/www/certbot; }}
{body}}}
"""


def _tls_lines(environment: Environment, settings: ServerSettings, ports: NginxPorts) -> str:
    cert, key = certificate(environment, settings)
    return f"""    listen {ports.https} ssl;
    server_name {host_name(environment)};
    server_tokens off;
    ssl_certificate {cert};
    ssl_certificate_key {key};
{TLS_SETTINGS}"""


# Mozilla's "intermediate" configuration (TLS 1.2 and 1.3, forward-secret AEAD ciphers only;
# no DHE, so no dhparam file to keep), session tickets off (their key would outlive a reload).
TLS_SETTINGS = """\
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:aletheia_ssl:10m;
    ssl_session_timeout 1d;
    ssl_session_tickets off;
"""


# Set here, once, for every response (static files and the placeholder included); the same
# headers from Django are hidden so none is sent twice with two values.
SECURITY_HEADERS = {
    "Strict-Transport-Security": '"max-age=31536000; includeSubDomains; preload"',
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def security_headers(indent: str = "    ") -> str:
    return "".join(
        f"{indent}add_header {name} {value} always;\n" for name, value in SECURITY_HEADERS.items()
    )


def hidden_upstream_headers(indent: str = "        ") -> str:
    return "".join(f"{indent}proxy_hide_header {name};\n" for name in SECURITY_HEADERS)


def render_full(
    environment: Environment,
    settings: ServerSettings,
    ports: NginxPorts,
    web_port: int = DEFAULT_PORT,
    slot: str | None = None,
) -> str:
    target = upstream(environment, settings, web_port, slot)
    is_ip = re.match(r"^[\d.]+:\d+$", target) is not None
    pool = f"aletheia_{environment.name}_web"
    # An IP upstream (host network): a pool with keep-alive connections, closed by nginx
    # before gunicorn would (its --keep-alive is 2 s), so nginx never reuses one gunicorn has
    # just closed. A Docker DNS name (shared network): re-resolved at each request through a
    # variable, which rules out a pool (and keep-alive) on nginx 1.22.
    upstream_block = (
        f"""upstream {pool} {{
    server {target};  # web slot {slot or "(single web)"}
    keepalive 16;
    keepalive_timeout 1s;
}}

"""
        if is_ip
        else ""
    )
    proxy = (
        f"        proxy_pass http://{pool};\n"
        if is_ip
        else f"        resolver 127.0.0.11 valid={RESOLVER_VALID_SECONDS}s ipv6=off;  # Docker's DNS: re-resolved, never stale\n"
        f"        set $aletheia_upstream http://{target};  # web slot {slot or '(single web)'}\n"
        "        proxy_pass $aletheia_upstream;\n"
    )
    auth = (
        f'    auth_basic "Aletheia {environment.name}";\n    auth_basic_user_file {settings.htpasswd};\n'
        if environment.proxy_auth == "basic"
        else ""
    )
    limit = "        limit_req zone=general burst=20 nodelay;\n" if environment.rate_limited else ""
    static = settings.static_dir.format(env=environment.name)
    redirect_server = _http_server(environment, ports, _redirect_location(ports))
    to_app = f"""{proxy}{hidden_upstream_headers()}        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_connect_timeout 5s;
        proxy_send_timeout 30s;
        proxy_read_timeout 30s;
        # a failed connection is retried once, for idempotent requests only (nginx's rule
        # without non_idempotent): never a POST twice
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries 2;
        proxy_next_upstream_timeout 10s;
"""
    return f"""# aletheia-{environment.name}.conf.full — generated by ops (python3 -m ops nginx-activate {environment.name})
# live web slot: {slot or "single web"}
{upstream_block}{redirect_server}
server {{
{_tls_lines(environment, settings, ports)}{security_headers()}    client_max_body_size 10m;
{auth}
    location /static/ {{
        alias {static}/;
        expires 30d;
        access_log off;
    }}

    location / {{
{limit}{to_app}    }}

    location ~ ^/(accounts/|admin/login/) {{
        limit_req zone=accounts burst=5 nodelay;
{to_app}    }}
}}
"""


PLACEHOLDER = (
    "<!doctype html><html lang=fr><meta charset=utf-8><title>Aletheia</title>"
    "<h1>D&eacute;ploiement en cours</h1><p>Deployment in progress. Please retry shortly.</p></html>"
)


def render_temp(environment: Environment, settings: ServerSettings, ports: NginxPorts) -> str:
    placeholder = f"""    location / {{
        default_type text/html;
{security_headers("        ")}        add_header Retry-After 120 always;
        return 503 '{PLACEHOLDER}';
    }}
"""
    text = f"# aletheia-{environment.name}.conf.temp — 503 placeholder, generated by ops\n"
    if not has_certificate(environment, settings):
        return text + _http_server(environment, ports, placeholder)
    text += _http_server(environment, ports, _redirect_location(ports))
    return text + f"\nserver {{\n{_tls_lines(environment, settings, ports)}{placeholder}}}\n"


def paths(environment: Environment, settings: ServerSettings) -> dict[str, Path]:
    base = settings.nginx_dir / f"aletheia-{environment.name}.conf"
    return {
        "active": base,
        "full": base.with_name(base.name + ".full"),
        "temp": base.with_name(base.name + ".temp"),
        "http": settings.nginx_dir / "aletheia-http.conf",
    }


def write_templates(
    environment: Environment,
    settings: ServerSettings,
    ports: NginxPorts,
    web_port: int,
    rate: str = "10r/s",
    slot: str | None = None,
) -> dict[str, Path]:
    files = paths(environment, settings)
    settings.nginx_dir.mkdir(parents=True, exist_ok=True)
    files["full"].write_text(render_full(environment, settings, ports, web_port, slot))
    files["temp"].write_text(render_temp(environment, settings, ports))
    files["http"].write_text(HTTP_SNIPPET.format(rate=rate))
    return files


def swap_active(files: dict[str, Path], which: str) -> str | None:
    """Make `which` (full/temp) the active config; returns the previous text to restore."""
    previous = files["active"].read_text() if files["active"].exists() else None
    shutil.copyfile(files[which], files["active"])
    return previous


def restore_active(files: dict[str, Path], previous: str | None) -> None:
    if previous is None:
        files["active"].unlink(missing_ok=True)
    else:
        files["active"].write_text(previous)


def activate(target: Target, runner: Runner) -> None:
    """Write the environment's configs; the full one goes live when the certificate exists,
    else the 503 placeholder. A config nginx -t refuses is taken back."""
    environment, server = target.environment, target.server
    if runner.dry_run:
        runner.say(f"    would write {paths(environment, server)['active']}{{,.full,.temp}}")
        runner.run(list(server.nginx_test))
        runner.run(list(server.nginx_reload))
        return
    files = write_templates(
        environment,
        server,
        NginxPorts.of(server),
        slots.port(target, target.web_slot),
        slot=target.upstream_slot,
    )
    which = "full" if has_certificate(environment, server) else "temp"
    if which == "temp":
        runner.say(
            f"    no certificate in {server.cert_dir / host_name(environment)}: serving the 503 placeholder"
        )
    previous = swap_active(files, which)
    if runner.run(list(server.nginx_test), check=False, capture=True).returncode != 0:
        restore_active(files, previous)
        runner.run(list(server.nginx_test), check=False, capture=True)
        raise StepFailed(
            "step 'nginx' failed: nginx -t refused the new config (previous config restored)"
        )
    reload(server, runner, files, previous)


def reload(
    server: ServerSettings, runner: Runner, files: dict[str, Path], previous: str | None
) -> None:
    """Reload nginx; if it fails, the previous active config is put back (and reloaded, for
    when it was the reload that nginx answered, not a running nginx that kept the old one)."""
    reloaded = runner.run(list(server.nginx_reload), check=False, capture=True)
    if reloaded.returncode != 0:
        restore_active(files, previous)
        runner.run(list(server.nginx_reload), check=False, capture=True)
        said = (reloaded.stderr or reloaded.stdout).strip().splitlines()[-1:] or ["no output"]
        raise StepFailed(
            f"step 'nginx' failed: nginx reload failed ({said[0]}); previous config restored"
        )


def placeholder(target: Target, runner: Runner) -> None:
    """The 503 placeholder for the time the app is stopped (a restore): no 502s meanwhile."""
    files = paths(target.environment, target.server)
    if runner.dry_run or not files["temp"].is_file():
        runner.say(f"    would make {files['active']} the 503 placeholder")
        return
    previous = swap_active(files, "temp")
    if runner.run(list(target.server.nginx_test), check=False, capture=True).returncode != 0:
        restore_active(files, previous)
        raise StepFailed("step 'nginx' failed: nginx -t refused the placeholder (config restored)")
    reload(target.server, runner, files, previous)
