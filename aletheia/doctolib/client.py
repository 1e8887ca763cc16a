"""An HTTP client for Doctolib's public JSON endpoints (httpx).

Retries 429/5xx/timeouts with exponential backoff and jitter, honouring Retry-After; 403 feeds
the circuit breaker; 404/410 on a booking page means the profile is gone.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from aletheia.doctolib.errors import (
    BadResponse,
    Blocked,
    ProfileGone,
    Unavailable,
)
from aletheia.doctolib.parsing import (
    PARIS,
    AvailabilityPage,
    ParsedBooking,
    parse_availabilities,
    parse_booking,
)
from aletheia.doctolib.throttle import CircuitBreaker, NoRateLimit, RateLimiter

RETRYABLE_STATUSES = {429, 500, 502, 503, 504, 520}
MAX_DAYS_PER_REQUEST = 15  # Doctolib's own maximum for `limit`


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    user_agent: str
    timeout: float = 10.0
    max_retries: int = 3
    backoff_base: float = 1.0
    max_retry_after: float = 60.0
    days_per_request: int = MAX_DAYS_PER_REQUEST


@dataclass(frozen=True)
class AvailabilityWindow:
    """What one agenda offers for one motive over the horizon."""

    slots: tuple[datetime, ...]
    next_slot: datetime | None
    reason: str


def retry_after_seconds(value: str | None, now: float) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


class DoctolibClient:
    def __init__(
        self,
        config: ClientConfig,
        *,
        rate_limiter: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.rate_limiter = rate_limiter or NoRateLimit()
        self.breaker = breaker
        self.sleep = sleep
        self.requests_sent = 0
        self.http = httpx.Client(
            base_url=config.base_url,
            headers={"User-Agent": config.user_agent, "Accept": "application/json"},
            timeout=config.timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    # --- endpoints ---------------------------------------------------------------

    def booking(self, slug: str) -> ParsedBooking:
        where = f"booking {slug}"
        payload = self._get_json(f"/booking/{slug}.json", {}, where, missing_means_gone=True)
        return parse_booking(payload, where)

    def availabilities(
        self, *, agenda_id: int, motive_id: int, practice_id: int | None, start: date, days: int
    ) -> AvailabilityPage:
        params: dict[str, Any] = {
            "start_date": start.isoformat(),
            "visit_motive_ids": str(motive_id),
            "agenda_ids": str(agenda_id),
            "insurance_sector": "public",
            "limit": max(1, min(days, MAX_DAYS_PER_REQUEST)),
        }
        if practice_id:
            params["practice_ids"] = str(practice_id)
        where = f"availabilities agenda {agenda_id} motive {motive_id} from {start}"
        return parse_availabilities(self._get_json("/availabilities.json", params, where), where)

    def availability_window(
        self,
        *,
        agenda_id: int,
        motive_id: int,
        practice_id: int | None,
        start: date,
        horizon_days: int,
    ) -> AvailabilityWindow:
        """Page through [start, start + horizon) by `start_date`, jumping to `next_slot`."""
        end = start + timedelta(days=horizon_days)
        end_moment = datetime(end.year, end.month, end.day, tzinfo=PARIS)
        start_moment = datetime(start.year, start.month, start.day, tzinfo=PARIS)
        slots: list[datetime] = []
        cursor, next_slot, reason = start, None, ""
        while cursor < end:
            days = min(self.config.days_per_request, (end - cursor).days)
            page = self.availabilities(
                agenda_id=agenda_id,
                motive_id=motive_id,
                practice_id=practice_id,
                start=cursor,
                days=days,
            )
            reason = page.reason or reason
            slots.extend(s for s in page.slots if start_moment <= s < end_moment)
            if page.slots:
                cursor += timedelta(days=days)
            elif page.next_slot and page.next_slot.astimezone(PARIS).date() > cursor:
                if page.next_slot >= end_moment:
                    next_slot = page.next_slot
                    break
                cursor = page.next_slot.astimezone(PARIS).date()
            else:
                break  # no slots and nothing later: Doctolib shows nothing further
        unique = tuple(sorted(set(slots)))
        return AvailabilityWindow(
            slots=unique,
            next_slot=unique[0] if unique else next_slot,
            reason="" if unique else reason,
        )

    # --- transport ---------------------------------------------------------------

    def _get_json(
        self, path: str, params: dict[str, Any], where: str, *, missing_means_gone: bool = False
    ) -> Any:
        attempts = self.config.max_retries + 1
        for attempt in range(1, attempts + 1):
            if self.breaker:
                self.breaker.check()
            self.rate_limiter.acquire()
            self.requests_sent += 1
            try:
                response = self.http.get(path, params=params)
            except httpx.TimeoutException:
                problem, delay = f"timed out after {self.config.timeout:g}s", None
            except httpx.TransportError as exc:
                problem, delay = f"connection failed ({type(exc).__name__}: {exc})", None
            else:
                status = response.status_code
                if status == 200:
                    try:
                        return response.json()
                    except ValueError as exc:
                        kind = response.headers.get("content-type", "no content-type")
                        raise BadResponse(
                            f"{where}: not JSON ({kind}): {response.text[:80]!r}"
                        ) from exc
                if status == 403:
                    if self.breaker:
                        self.breaker.record_block()
                    raise Blocked(f"{where}: 403 Forbidden ({response.text[:60]!r})")
                if status in (404, 410) and missing_means_gone:
                    raise ProfileGone(f"{where}: {status} {response.reason_phrase}", status)
                if status not in RETRYABLE_STATUSES:
                    raise BadResponse(f"{where}: HTTP {status} {response.text[:80]!r}")
                problem = f"HTTP {status}"
                delay = retry_after_seconds(response.headers.get("retry-after"), time.time())
                if delay is not None:
                    delay = min(delay, self.config.max_retry_after)
            if attempt == attempts:
                raise Unavailable(f"{where}: {problem}, still failing after {attempts} attempts")
            if delay is None:
                jitter = random.uniform(0, 0.5)  # noqa: S311 - not cryptographic
                delay = self.config.backoff_base * 2 ** (attempt - 1) + jitter
            self.sleep(delay)
        raise AssertionError("unreachable")
