"""What the Redis cache stores: JSON, never pickle.

Django's default Redis serializer unpickles what it reads, so anyone able to write a key could
run code in every process that reads it. Cached values here are data (strings, numbers, lists,
dicts): JSON keeps them data even where the Redis ACLs were wrong.
"""

import json
from typing import Any


class JSONSerializer:
    """Integers stay plain (Redis INCR works on them, as with Django's serializer)."""

    def dumps(self, obj: Any) -> bytes | int:
        if type(obj) is int:
            return obj
        return json.dumps(obj, separators=(",", ":")).encode()

    def loads(self, data: bytes) -> Any:
        try:
            return int(data)
        except ValueError:
            return json.loads(data)
