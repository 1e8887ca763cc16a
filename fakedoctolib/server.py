"""The fake Doctolib's HTTP side: routes, misbehaviour on demand, a threaded server.

Each centre can misbehave: 403, 404, 410, garbage, an error-shaped payload, slowness,
transient 429/5xx (with Retry-After); `block_everything` answers 403 to all.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakedoctolib.world import FakeProfile, FakeWorld


class _Handler(BaseHTTPRequestHandler):
    server: "FakeDoctolibServer"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        server = self.server
        with server.lock:
            server.request_count += 1
        if server.latency:
            time.sleep(server.latency)
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        world = server.world
        if world.block_everything:
            return self._send(403, "Anti dDos", "text/html")
        if url.path.startswith("/booking/") and url.path.endswith(".json"):
            profile = world.profiles.get(url.path[len("/booking/") : -len(".json")])
            if profile is None:
                return self._send(404, "<html><body>Page introuvable</body></html>", "text/html")
            if self._misbehave(profile):
                return None
            return self._send(200, json.dumps(profile.booking))
        if url.path == "/availabilities.json":
            first_agenda = params.get("agenda_ids", "0").split("-")[0]
            owner = world.agenda_owner(int(first_agenda)) if first_agenda.isdigit() else None
            if owner and self._misbehave(owner):
                return None
            status, payload = world.availabilities(params)
            return self._send(status, json.dumps(payload))
        return self._send(404, "<html>Not found</html>", "text/html")

    def _misbehave(self, profile: FakeProfile) -> bool:
        with self.server.lock:
            transient = profile.transient.pop(0) if profile.transient else None
        if transient:
            headers = {"Retry-After": profile.retry_after} if profile.retry_after else {}
            self._send(transient, "<html>Too many requests</html>", "text/html", headers)
            return True
        behaviour = profile.behaviour
        if behaviour == "ok":
            return False
        if behaviour == "blocked":
            self._send(403, "Anti dDos", "text/html")
        elif behaviour == "gone":
            self._send(410, '{"error":"gone"}')
        elif behaviour == "missing":
            self._send(404, "<html>Page introuvable</html>", "text/html")
        elif behaviour == "garbage":
            self._send(200, '{"data": {"profile": {"id": 1, "name_wi')
        elif behaviour == "error_payload":
            self._send(200, '{"error":"not found"}')
        elif behaviour == "slow":
            time.sleep(self.server.world.slow_seconds)
            self._send(200, json.dumps(profile.booking))
        return True

    def _send(
        self,
        status: int,
        body: str,
        content_type: str = "application/json; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)


class FakeDoctolibServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many concurrent clients (benchmark workers)

    def __init__(
        self, world: FakeWorld, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0
    ):
        super().__init__((host, port), _Handler)
        self.world = world
        self.latency = latency
        self.lock = threading.Lock()
        self.request_count = 0
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> "FakeDoctolibServer":
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
