"""An open-loop load through nginx with TLS and SNI, bounded in rate, count and time.

Requests are scheduled every 1/rate seconds whatever the previous ones did (open loop: a slow
answer does not slow the load down) and run on a bounded pool of threads, each keeping its
own keep-alive connection like a browser does. Latency counts from the scheduled time.

A request fails on any answer but 200 (a 5xx, but also a 401 or a 429: an answer nginx gave
without the app), a refused or reset connection, or a timeout. One case is told apart:
a keep-alive connection the server closed while idle, found closed when reused before any
byte of an answer came back. Browsers and HTTP libraries resend the request then (RFC 9112,
9.3.1, idempotent requests); so does this client, once, and counts it in `retried`.
"""

import base64
import http.client
import select
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

REPORTED: list[tuple[str, dict[str, Any]]] = []  # printed at the end of the run (conftest.py)


def report(name: str, figures: dict[str, Any]) -> None:
    """Keep an operation's figures for the run's summary (CI's log shows them)."""
    REPORTED.append((name, figures))


CLOSED_WHEN_REUSED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class _Connection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with the real host name in SNI and in Host."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass
class Sample:
    at: float  # scheduled, seconds since the load started
    latency: float
    status: int  # 0: no answer
    error: str = ""
    retried: bool = False
    late: float = 0.0  # from the scheduled time to the request's start: the client's own delay

    @property
    def failed(self) -> bool:
        return self.status != 200  # every request of the load expects 200 (a 401 or a 429 too)


@dataclass
class Load:
    host: str
    port: int
    path: str = "/healthz"
    auth: tuple[str, str] | None = None
    rate: float = 50.0
    max_seconds: float = 300.0  # stops by itself after this long whatever happens
    timeout: float = 10.0
    threads: int = 64
    samples: list[Sample] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    idle_closed: int = 0  # idle keep-alive connections the server closed (seen before reuse)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._context = ssl.create_default_context()
        self._context.check_hostname = False
        self._context.verify_mode = ssl.CERT_NONE  # the e2e certificates are self-signed
        self._headers = {"Host": self.host, "Connection": "keep-alive"}
        if self.auth:
            token = base64.b64encode(":".join(self.auth).encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"

    def __enter__(self) -> "Load":
        self._started = time.monotonic()
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="load")
        self._dispatcher = threading.Thread(target=self._dispatch, daemon=True)
        self._dispatcher.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._dispatcher.join()
        self._pool.shutdown(wait=True)

    def now(self) -> float:
        return time.monotonic() - self._started

    def mark(self, name: str) -> None:
        self.marks[name] = self.now()

    def _dispatch(self) -> None:
        interval, sent = 1 / self.rate, 0
        limit = int(self.rate * self.max_seconds)
        while not self._stop.is_set() and sent < limit:
            at = sent * interval
            delay = at - self.now()
            if delay > 0:
                self._stop.wait(delay)
                if self._stop.is_set():
                    return
            self._pool.submit(self._request, at)
            sent += 1

    def _connection(self, fresh: bool) -> tuple[_Connection, bool]:
        """The thread's keep-alive connection, and whether it was used before. One the server
        closed while idle is seen closed (readable: its EOF) and replaced before it is used,
        as browsers and urllib3 do."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None:
            readable, _, _ = select.select([conn.sock], [], [], 0)
            fresh = fresh or bool(readable)
            if readable:
                with self._lock:
                    self.idle_closed += 1
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = _Connection(self.host, self.port, timeout=self.timeout, context=self._context)
            self._local.conn, self._local.used = conn, False
        return conn, self._local.used

    def _request(self, at: float) -> None:
        status, error, retried, started = 0, "", False, self.now()
        for attempt in (1, 2):
            conn, reused = self._connection(fresh=attempt == 2)
            try:
                conn.request("GET", self.path, headers=self._headers)
                response = conn.getresponse()
                response.read()
                status, error = response.status, ""
                self._local.used = True
                if response.will_close:
                    self._local.conn = None
                    conn.close()
                break
            except CLOSED_WHEN_REUSED as exc:
                self._local.conn = None
                conn.close()
                error = f"{type(exc).__name__}: {exc}"
                if reused and attempt == 1:
                    retried = True
                    continue
                break
            except (OSError, http.client.HTTPException) as exc:  # refused, timeout, TLS
                self._local.conn = None
                conn.close()
                error = f"{type(exc).__name__}: {exc}"
                break
        sample = Sample(at, self.now() - at, status, error, retried, started - at)
        with self._lock:
            self.samples.append(sample)

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, str]:
        """One request on a connection of its own (not part of the load)."""
        conn = _Connection(self.host, self.port, timeout=self.timeout, context=self._context)
        try:
            conn.request("GET", path, headers={**self._headers, **headers})
            response = conn.getresponse()
            return response.status, response.read().decode()
        except (OSError, http.client.HTTPException) as exc:
            return 0, str(exc)
        finally:
            conn.close()

    # -- figures ---------------------------------------------------------------------------

    def ordered(self) -> list[Sample]:
        with self._lock:
            return sorted(self.samples, key=lambda s: s.at)

    def failures(self) -> list[Sample]:
        return [s for s in self.ordered() if s.failed]

    def longest_outage(self) -> float:
        """The longest span from a failed request to the next one that succeeded."""
        longest, since = 0.0, None
        for sample in self.ordered():
            if sample.failed:
                since = sample.at if since is None else since
            elif since is not None:
                longest, since = max(longest, sample.at - since), None
        if since is not None:
            longest = max(longest, self.now() - since)
        return longest

    def latency(self, start: float = 0.0, end: float = float("inf")) -> tuple[float, float]:
        """p50 and p99 latency (ms) of the answered requests scheduled within [start, end)."""
        values = sorted(s.latency for s in self.ordered() if start <= s.at < end and not s.failed)
        if not values:
            return 0.0, 0.0
        pick = lambda q: values[min(len(values) - 1, int(q * len(values)))] * 1000  # noqa: E731
        return pick(0.5), pick(0.99)

    def summary(self, start: str = "", end: str = "") -> dict[str, Any]:
        samples = self.ordered()
        begin = self.marks.get(start, 0.0)
        finish = self.marks.get(end, float("inf"))
        errors: dict[str, int] = {}
        for sample in samples:
            if sample.failed:
                kind = sample.error.split(":")[0] if sample.error else str(sample.status)
                errors[kind] = errors.get(kind, 0) + 1
        steady = self.latency(0.0, begin) if start else (0.0, 0.0)
        during = self.latency(begin, finish)
        statuses: dict[str, int] = {}
        for sample in samples:
            statuses[str(sample.status)] = statuses.get(str(sample.status), 0) + 1
        return {
            "sent": len(samples),
            "failed": sum(s.failed for s in samples),
            "statuses": statuses,
            "errors": errors,
            "retried_keepalive": sum(s.retried for s in samples),
            "idle_keepalive_closed": self.idle_closed,
            "longest_outage_s": round(self.longest_outage(), 2),
            "steady_p50_p99_ms": [round(v, 1) for v in steady],
            "during_p50_p99_ms": [round(v, 1) for v in during],
            # (scheduled at, s from the operation's start; latency ms; of which the client's
            # own delay before sending, ms): a stall the client made has latency ≈ delay
            "slowest_at_s_ms_late_ms": [
                (round(s.at - begin, 1), round(s.latency * 1000), round(s.late * 1000))
                for s in sorted(samples, key=lambda s: -s.latency)[:5]
            ],
        }
