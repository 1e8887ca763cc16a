"""What can go wrong talking to Doctolib, as exceptions the sync code handles by kind."""


class DoctolibError(Exception):
    """Base class: the message says what happened and to which request."""


class Blocked(DoctolibError):
    """403: Doctolib refuses this client (not allow-listed, or throttled hard)."""


class ProfileGone(DoctolibError):
    """404 or 410 on a booking page: the profile was removed or its slug changed."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class BadResponse(DoctolibError):
    """Not JSON, malformed JSON, an unexpected shape, or an error-shaped payload."""


class Unavailable(DoctolibError):
    """429, 5xx or timeouts still failing after every retry."""


class CircuitOpen(DoctolibError):
    """Too many 403s in a row: every worker stops asking Doctolib for a while."""
