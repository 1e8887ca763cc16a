import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
# Django imports the URLconf (every view module) on the first request: ~0.7 s that request and
# every one queued behind it would wait. Import it now, before the worker accepts a request
# (with gunicorn's --preload, once in the arbiter, inherited by every worker it forks).
get_resolver().url_patterns  # noqa: B018
