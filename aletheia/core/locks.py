"""Locks in the shared cache that only their owner releases."""

from django.core.cache import cache

# Delete the key only if it still holds the owner's token (atomic in Redis).
RELEASE_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def release(key: str, token: str) -> bool:
    """Release `key` if this token still owns it. A lock that expired and was taken by someone
    else is left alone (a plain delete would free another worker's lock)."""
    backend = getattr(cache, "_cache", None)
    if backend is not None and hasattr(backend, "get_client"):  # RedisCache
        full_key = cache.make_and_validate_key(key)
        client = backend.get_client(full_key, write=True)
        serialized = backend._serializer.dumps(token)
        return bool(client.eval(RELEASE_IF_OWNER, 1, full_key, serialized))
    if cache.get(key) == token:  # local-memory cache: one process, no race to guard against
        cache.delete(key)
        return True
    return False
