"""Builds the Doctolib client from Django settings (shared rate limit, shared circuit)."""

import redis
from django.conf import settings
from django.core.cache import cache

from aletheia.doctolib.client import ClientConfig, DoctolibClient
from aletheia.doctolib.throttle import (
    CircuitBreaker,
    LocalRateLimiter,
    NoRateLimit,
    RateLimiter,
    RedisRateLimiter,
)


def rate_limiter_from_settings() -> RateLimiter:
    rate = settings.DOCTOLIB_RATE_PER_SECOND
    if rate <= 0:
        return NoRateLimit()
    cache_settings = settings.CACHES["default"]
    if str(cache_settings["BACKEND"]).endswith("RedisCache"):
        key = f"{cache_settings.get('KEY_PREFIX') or 'aletheia'}:doctolib:ratelimit"
        return RedisRateLimiter(
            redis.Redis.from_url(str(cache_settings["LOCATION"])), rate, key=key
        )
    return LocalRateLimiter(rate)


def circuit_breaker_from_settings() -> CircuitBreaker:
    return CircuitBreaker(
        cache,
        settings.DOCTOLIB_BLOCKS_BEFORE_STOP,
        settings.DOCTOLIB_BLOCK_COOLDOWN_SECONDS,
        key=settings.DOCTOLIB_CIRCUIT_KEY,
    )


def client_from_settings() -> DoctolibClient:
    config = ClientConfig(
        base_url=settings.DOCTOLIB_BASE_URL,
        user_agent=settings.DOCTOLIB_USER_AGENT,
        timeout=settings.DOCTOLIB_TIMEOUT,
        max_retries=settings.DOCTOLIB_MAX_RETRIES,
    )
    return DoctolibClient(
        config, rate_limiter=rate_limiter_from_settings(), breaker=circuit_breaker_from_settings()
    )
