"""Politeness towards Doctolib, shared by every worker: a rate limit and a 403 circuit breaker.

The rate limit spaces requests evenly (GCRA with no burst): each caller reserves the next free
moment atomically in Redis and sleeps until then. Hand-written because the well-kept limiters
(e.g. `limits`) answer yes/no and would have every worker poll; a reservation is exact and
needs one round trip.
"""

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import redis

from aletheia.doctolib.errors import CircuitOpen

RESERVE_SCRIPT = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil((tat + interval - now) * 1000) + 1000)
return tostring(tat - now)
"""


class RateLimiter(Protocol):
    def acquire(self) -> float: ...


class NoRateLimit:
    def acquire(self) -> float:
        return 0.0


class LocalRateLimiter:
    """One process only: for the embedded (no Redis) setup."""

    def __init__(self, per_second: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / per_second
        self.sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        with self._lock:
            now = time.monotonic()
            start = max(self._next, now)
            self._next = start + self.interval
        wait = start - now
        if wait > 0:
            self.sleep(wait)
        return wait


class RedisRateLimiter:
    """Every process sharing the Redis db shares the same request budget."""

    def __init__(
        self,
        client: redis.Redis,
        per_second: float,
        key: str = "aletheia:doctolib:ratelimit",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second
        self.key = key
        self.sleep = sleep
        self._reserve = client.register_script(RESERVE_SCRIPT)

    def acquire(self) -> float:
        wait = float(self._reserve(keys=[self.key], args=[self.interval]))
        if wait > 0:
            self.sleep(wait)
        return wait


class CacheStore(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def add(self, key: str, value: Any, timeout: float | None = ...) -> bool: ...
    def incr(self, key: str, delta: int = 1) -> int: ...
    def set(self, key: str, value: Any, timeout: float | None = ...) -> None: ...
    def delete(self, key: str) -> Any: ...


class CircuitBreaker:
    """After `threshold` 403s within `cooldown` seconds, stop asking Doctolib for `cooldown`.

    State lives in a shared cache (Redis on servers) so one blocked worker stops them all.
    """

    def __init__(
        self,
        store: CacheStore,
        threshold: int,
        cooldown: float,
        key: str = "aletheia:doctolib:circuit",
    ) -> None:
        self.store = store
        self.threshold = threshold
        self.cooldown = cooldown
        self.blocks_key = f"{key}:blocks"
        self.open_key = f"{key}:open-until"

    def check(self) -> None:
        open_until = self.store.get(self.open_key)
        if open_until and open_until > time.time():
            raise CircuitOpen(
                f"Doctolib answered 403 (blocked) {self.threshold} times: not asking it again "
                f"before {time.strftime('%H:%M:%S', time.localtime(open_until))}. Check that "
                "DOCTOLIB_USER_AGENT is the allow-listed key, or wait."
            )

    def record_block(self) -> None:
        self.store.add(self.blocks_key, 0, self.cooldown)
        if self.store.incr(self.blocks_key) >= self.threshold:
            self.store.set(self.open_key, time.time() + self.cooldown, self.cooldown)
            self.store.delete(self.blocks_key)
            self.check()

    def state(self) -> tuple[float | None, int]:
        """(when the circuit closes again if it is open, else None; 403s counted so far)."""
        open_until = self.store.get(self.open_key)
        if not open_until or open_until <= time.time():
            open_until = None
        return open_until, int(self.store.get(self.blocks_key) or 0)

    def reset(self) -> None:
        self.store.delete(self.blocks_key)
        self.store.delete(self.open_key)
