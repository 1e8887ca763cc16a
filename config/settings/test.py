"""pytest: real PostgreSQL and Redis (URLs from the environment, local defaults).

Each pytest run gets its own id, so its database (`test_aletheia_<id>[_gwN]`) and Redis keys
never collide with a parallel run or an earlier run's leftovers.
"""

import os
import uuid

from config.env import redis_db_url

from .base import *  # noqa: F403
from .base import celery_key_prefix, env, postgres_options, redis_cache

TEST_RUN_ID = os.environ.setdefault("ALETHEIA_TEST_RUN_ID", uuid.uuid4().hex[:8])

DEBUG = False
SECRET_KEY = "test-only-secret-key"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

DATABASES = {
    "default": postgres_options(
        env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/aletheia")
    )
}
DATABASES["default"]["TEST"] = {"NAME": f"test_aletheia_{TEST_RUN_ID}"}
DATABASES["default"]["CONN_MAX_AGE"] = 0

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379")
TEST_REDIS_DB = env.int("TEST_REDIS_DB", default=15)
REDIS_KEY_PREFIX = f"test-{TEST_RUN_ID}"
# the cache has one prefix per xdist worker: cached renderings never cross from one worker's
# tests to another's (a worker process started by a test inherits PYTEST_XDIST_WORKER)
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
CACHES = {
    "default": redis_cache(redis_db_url(REDIS_URL, TEST_REDIS_DB), f"{REDIS_KEY_PREFIX}-{_WORKER}")
}
CELERY_BROKER_URL = redis_db_url(REDIS_URL, TEST_REDIS_DB)
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_BROKER_TRANSPORT_OPTIONS = celery_key_prefix(REDIS_KEY_PREFIX)
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = celery_key_prefix(REDIS_KEY_PREFIX)
# a real worker started by a test runs with CELERY_EAGER=false on its own queue
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_EAGER", default=True)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_EAGER_PROPAGATES = True

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
