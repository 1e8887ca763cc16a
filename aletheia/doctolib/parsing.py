"""Pure functions: Doctolib JSON -> typed records. No I/O, no Django models.

The records are named `Parsed…` (`ParsedPlace`, `ParsedAgenda`…) so that they are never
mistaken for the models of the same name in `aletheia.catalog.models`.

Shapes: ../shared/reference/doctolib-api.md (booking/info.json and availabilities.json).
"""

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from aletheia.doctolib.errors import BadResponse

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class ParsedSpeciality:
    doctolib_id: int
    name: str
    slug: str = ""


@dataclass(frozen=True)
class ParsedPlace:
    practice_id: int
    name: str
    address: str
    zipcode: str
    city: str
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class ParsedPractitioner:
    doctolib_id: int
    name_with_title: str
    speciality_name: str


@dataclass(frozen=True)
class ParsedVisitMotive:
    doctolib_id: int
    name: str
    speciality_id: int | None
    ref_visit_motive_id: int | None
    allow_new_patients: bool
    telehealth: bool
    position: int


@dataclass(frozen=True)
class ParsedAgenda:
    doctolib_id: int
    practitioner_id: int | None
    speciality_id: int | None
    practice_id: int | None
    booking_disabled: bool
    booking_temporary_disabled: bool
    visit_motive_ids: tuple[int, ...]


@dataclass(frozen=True)
class ParsedBooking:
    profile_id: int
    name: str
    speciality_name: str
    specialities: tuple[ParsedSpeciality, ...]
    places: tuple[ParsedPlace, ...]
    practitioners: tuple[ParsedPractitioner, ...]
    visit_motives: tuple[ParsedVisitMotive, ...]
    agendas: tuple[ParsedAgenda, ...]


@dataclass(frozen=True)
class AvailabilityPage:
    slots: tuple[datetime, ...]
    next_slot: datetime | None
    reason: str = ""


def _require(payload: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(payload, dict) or key not in payload:
        raise BadResponse(f"{where}: missing '{key}'")
    value = payload[key]
    if not isinstance(value, kind):
        raise BadResponse(f"{where}: '{key}' is {type(value).__name__}, expected {kind.__name__}")
    return value


def reject_error_payload(payload: Any, where: str) -> None:
    """Doctolib sometimes answers 200 with {"error": ...}: that is an error, not data."""
    if isinstance(payload, dict) and any(k in payload for k in ("error", "errors")):
        raise BadResponse(f"{where}: error payload {str(payload)[:200]}")


def _practice_id(place_id: Any) -> int:
    # places[].id is "practice-30366"
    text = str(place_id)
    digits = text.removeprefix("practice-")
    if not digits.isdigit():
        raise BadResponse(f"place id {text!r} is not practice-N")
    return int(digits)


def parse_booking(payload: Any, where: str = "booking") -> ParsedBooking:
    reject_error_payload(payload, where)
    data = _require(payload, "data", dict, where)
    try:
        profile = _require(data, "profile", dict, where)
        speciality = profile.get("speciality") or {}
        agendas = []
        for raw in data.get("agendas") or []:
            motive_ids = raw.get("visit_motive_ids") or [
                m
                for ids in (raw.get("visit_motive_ids_by_practice_id") or {}).values()
                for m in ids
            ]
            agendas.append(
                ParsedAgenda(
                    doctolib_id=int(raw["id"]),
                    practitioner_id=raw.get("practitioner_id"),
                    speciality_id=raw.get("speciality_id"),
                    practice_id=raw.get("practice_id"),
                    booking_disabled=bool(raw.get("booking_disabled")),
                    booking_temporary_disabled=bool(raw.get("booking_temporary_disabled")),
                    visit_motive_ids=tuple(dict.fromkeys(int(m) for m in motive_ids)),
                )
            )
        return ParsedBooking(
            profile_id=int(profile["id"]),
            name=str(profile.get("name_with_title") or profile.get("name") or ""),
            speciality_name=str(speciality.get("name") or ""),
            specialities=tuple(
                ParsedSpeciality(int(s["id"]), str(s["name"]), str(s.get("slug") or ""))
                for s in data.get("specialities") or []
            ),
            places=tuple(
                ParsedPlace(
                    practice_id=_practice_id(p["id"]),
                    name=str(p.get("name") or "").strip(),
                    address=str(p.get("address") or ""),
                    zipcode=str(p.get("zipcode") or ""),
                    city=str(p.get("city") or ""),
                    latitude=p.get("latitude"),
                    longitude=p.get("longitude"),
                )
                for p in data.get("places") or []
            ),
            practitioners=tuple(
                ParsedPractitioner(
                    doctolib_id=int(p["id"]),
                    name_with_title=str(p.get("name_with_title") or p.get("name") or ""),
                    speciality_name=str(p.get("speciality") or ""),
                )
                for p in data.get("practitioners") or []
            ),
            visit_motives=tuple(
                ParsedVisitMotive(
                    doctolib_id=int(m["id"]),
                    name=str(m.get("name") or ""),
                    speciality_id=m.get("speciality_id"),
                    ref_visit_motive_id=m.get("ref_visit_motive_id"),
                    allow_new_patients=m.get("allow_new_patients") is not False,
                    telehealth=bool(m.get("telehealth")),
                    position=int(m.get("position") or 0),
                )
                for m in data.get("visit_motives") or []
            ),
            agendas=tuple(agendas),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadResponse(f"{where}: unexpected shape ({type(exc).__name__}: {exc})") from exc


def parse_moment(value: str) -> datetime:
    """An ISO datetime (`…T09:00:00.000+01:00`) or a bare date (`2026-03-12`, midnight Paris)."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=PARIS)
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise BadResponse(f"not a date or datetime: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)


def _slot_start(slot: Any) -> datetime:
    # slots come as plain strings, or as objects with start_date (multi-step motives)
    if isinstance(slot, str):
        return parse_moment(slot)
    if isinstance(slot, dict) and isinstance(slot.get("start_date"), str):
        return parse_moment(slot["start_date"])
    raise BadResponse(f"slot of unexpected shape: {str(slot)[:80]}")


def parse_availabilities(payload: Any, where: str = "availabilities") -> AvailabilityPage:
    reject_error_payload(payload, where)
    days = _require(payload, "availabilities", list, where)
    slots: list[datetime] = []
    try:
        for day in days:
            date.fromisoformat(day["date"])  # a day without a valid date is a malformed answer
            slots.extend(_slot_start(s) for s in day.get("slots") or [])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadResponse(f"{where}: unexpected day shape ({exc})") from exc
    next_slot = payload.get("next_slot")
    return AvailabilityPage(
        slots=tuple(sorted(slots)),
        next_slot=parse_moment(next_slot) if isinstance(next_slot, str) else None,
        reason=str(payload.get("reason") or ""),
    )
