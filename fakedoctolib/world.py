"""The fake Doctolib's world: centres as Doctolib's JSON, and how each agenda fills.

`FakeWorld.availabilities` answers `/availabilities.json` as Doctolib does, quirks included
(one closed agenda hides the others' slots; `next_slot` as a bare date beyond 30 days).
Responses follow the recorded shapes in ../shared/reference/doctolib-api.md.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from aletheia.doctolib.parsing import PARIS


@dataclass
class Schedule:
    """How one agenda x motive fills: open (slots), later (beyond the horizon), none, closed."""

    kind: str = "open"
    first_day_offset: int = 0
    slots_per_day: int = 4
    every_n_days: int = 1


@dataclass
class FakeProfile:
    slug: str
    booking: dict[str, Any]
    schedules: dict[tuple[int, int], Schedule] = field(default_factory=dict)
    behaviour: str = "ok"  # ok | blocked | gone | missing | garbage | error_payload | slow
    transient: list[int] = field(default_factory=list)  # statuses to answer first, one per request
    retry_after: str | None = None
    slot_objects: bool = False


@dataclass
class FakeWorld:
    profiles: dict[str, FakeProfile]
    today: date
    block_everything: bool = False
    slow_seconds: float = 2.0

    def agenda_owner(self, agenda_id: int) -> FakeProfile | None:
        for profile in self.profiles.values():
            if any(a["id"] == agenda_id for a in profile.booking["data"]["agendas"]):
                return profile
        return None

    def slots(
        self, profile: FakeProfile, agenda_id: int, motive_id: int, day: date
    ) -> list[datetime]:
        schedule = profile.schedules.get((agenda_id, motive_id), Schedule(kind="none"))
        if schedule.kind not in ("open", "later"):
            return []
        # a little day-to-day drift, so history has a shape
        drift = (agenda_id + motive_id + self.today.toordinal()) % 3
        offset = (day - self.today).days
        first = schedule.first_day_offset + drift
        if offset < first or (offset - first) % schedule.every_n_days or day.weekday() == 6:
            return []
        start = datetime(day.year, day.month, day.day, 9, 0, tzinfo=PARIS)
        return [start + timedelta(minutes=20 * i) for i in range(schedule.slots_per_day)]

    def availabilities(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        start = date.fromisoformat(params["start_date"])
        limit = max(1, min(int(params.get("limit", "7")), 15))
        agenda_ids = [int(a) for a in params.get("agenda_ids", "").split("-") if a]
        motive_ids = [int(m) for m in params.get("visit_motive_ids", "").split("-") if m]
        owners = [(a, self.agenda_owner(a)) for a in agenda_ids]
        if any(owner is None for _, owner in owners):
            return 200, {"availabilities": [], "total": 0, "reason": "no_availabilities"}
        # Doctolib's documented quirk: one closed agenda hides the others' slots.
        if any(
            owner and owner.schedules.get((a, m), Schedule()).kind == "closed"
            for a, owner in owners
            for m in motive_ids
        ):
            days = [{"date": (start + timedelta(d)).isoformat(), "slots": []} for d in range(limit)]
            return 200, {
                "availabilities": days,
                "total": 0,
                "reason": "not_opened_availability",
                "message": "L'agenda n'est pas ouvert",
                "next_slot": None,
            }
        objects = any(owner and owner.slot_objects for _, owner in owners)
        days_out, total = [], 0
        for d in range(limit):
            day = start + timedelta(d)
            day_slots = sorted(
                s
                for a, owner in owners
                for m in motive_ids
                if owner
                for s in self.slots(owner, a, m, day)
            )
            total += len(day_slots)
            rendered: list[Any] = [
                {
                    "agenda_id": agenda_ids[0],
                    "practitioner_agenda_id": None,
                    "start_date": _iso(s),
                    "end_date": _iso(s + timedelta(minutes=20)),
                    "steps": [],
                }
                if objects
                else _iso(s)
                for s in day_slots
            ]
            days_out.append({"date": day.isoformat(), "slots": rendered, "substitution": None})
        payload: dict[str, Any] = {"availabilities": days_out, "total": total}
        if total == 0:
            later = self._first_slot_after(owners, motive_ids, start + timedelta(limit))
            if later is not None:
                # beyond Doctolib's own reach it gives a bare date; nearer, a datetime
                far = (later.date() - start).days > 30
                payload["next_slot"] = later.date().isoformat() if far else _iso(later)
            else:
                payload["reason"] = "no_availabilities"
                payload["message"] = "Aucune disponibilité en ligne"
        return 200, payload

    def _first_slot_after(
        self, owners: list[tuple[int, FakeProfile | None]], motive_ids: list[int], day: date
    ) -> datetime | None:
        for d in range(120):
            found = sorted(
                s
                for a, owner in owners
                for m in motive_ids
                if owner
                for s in self.slots(owner, a, m, day + timedelta(d))
            )
            if found:
                return found[0]
        return None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def build_booking(
    *,
    profile_id: int,
    name: str,
    speciality: tuple[int, str, str],
    specialities: list[tuple[int, str, str]],
    places: list[dict[str, Any]],
    practitioners: list[dict[str, Any]],
    motives: list[dict[str, Any]],
    agendas: list[dict[str, Any]],
) -> dict[str, Any]:
    """A /booking/{slug}.json payload in Doctolib's recorded shape.

    `specialities` (id, name, slug) lists those the world knows; the page shows the ones its
    motives use."""
    speciality_ids = sorted({m["speciality_id"] for m in motives})
    return {
        "data": {
            "profile": {
                "id": profile_id,
                "name_with_title": name,
                "name_with_title_and_determiner": f"le {name}",
                "speciality": {
                    "id": speciality[0],
                    "name": speciality[1],
                    "slug": speciality[2],
                    "kind": "medical",
                    "covid_vaccination_eligible": False,
                },
                "organization": True,
                "redirect_url": f"/{speciality[2]}/paris",
            },
            "specialities": [
                {"id": s[0], "name": s[1], "kind": "medical"}
                for s in specialities
                if s[0] in speciality_ids
            ],
            "visit_motive_categories": [],
            "visit_motives": motives,
            "agendas": agendas,
            "places": places,
            "practitioners": practitioners,
            "vaccination_center": False,
            "number_future_vaccinations": 0,
            "has_new_patient_rule": True,
        }
    }
