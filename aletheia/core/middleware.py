from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers


class FrenchFirstLocaleMiddleware:
    """French for everyone unless they chose otherwise with the language switcher.

    Django's LocaleMiddleware would follow the browser's Accept-Language, so staff with an
    English browser would never see the French-first site; only an explicit choice (the
    language cookie set by /i18n/setlang/) overrides the default here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ["Cookie"])
        return response


def client_address(request: HttpRequest) -> str:
    """The client's address: nginx's X-Real-IP (nginx sets it from the connection; a client
    cannot choose it), else the connection's peer. Used for login throttling."""
    return request.headers.get("X-Real-Ip") or request.META.get("REMOTE_ADDR", "")
