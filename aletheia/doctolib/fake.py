"""A local HTTP server that speaks Doctolib's public JSON, with its failure modes.

Tests, `seed_demo` and the sync benchmark point the real client at it: Doctolib itself is never
reached. Responses follow the recorded shapes in ../shared/reference/doctolib-api.md; a world
generator builds realistic centres. Each profile can misbehave: 403, 404, 410, garbage, an
error-shaped payload, slowness, transient 429/5xx (with Retry-After).
"""

import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aletheia.doctolib.parsing import PARIS

SPECIALITIES = [
    (2, "Médecin généraliste", "medecin-generaliste"),
    (1, "Chirurgien-dentiste", "dentiste"),
    (5, "Ophtalmologue", "ophtalmologue"),
    (8, "Gynécologue médical", "gynecologue-medical"),
    (13, "Dermatologue", "dermatologue"),
    (10, "Masseur-kinésithérapeute", "masseur-kinesitherapeute"),
]
MOTIVES = ["Première consultation", "Consultation de suivi", "Consultation urgente"]
FIRST_NAMES = [
    "Anne",
    "Louis",
    "Camille",
    "Hugo",
    "Léa",
    "Julien",
    "Chloé",
    "Marc",
    "Inès",
    "Paul",
    "Sarah",
    "Thomas",
    "Manon",
    "Nicolas",
    "Emma",
    "Karim",
    "Lucie",
    "Yann",
]
LAST_NAMES = [
    "MARTIN",
    "BERNARD",
    "DUBOIS",
    "THOMAS",
    "ROBERT",
    "PETIT",
    "DURAND",
    "LEROY",
    "MOREAU",
    "SIMON",
    "LAURENT",
    "LEFEBVRE",
    "MICHEL",
    "GARCIA",
    "DAVID",
    "BERTRAND",
]
PLACES = [
    ("Paris 15e", "75015", "Paris", "rue de Vaugirard"),
    ("Paris 7e", "75007", "Paris", "avenue de Suffren"),
    ("Lyon 3e", "69003", "Lyon", "cours Gambetta"),
    ("Nantes", "44000", "Nantes", "rue de Strasbourg"),
    ("Lille", "59000", "Lille", "rue Nationale"),
    ("Bordeaux", "33000", "Bordeaux", "cours de l'Intendance"),
    ("Versailles", "78000", "Versailles", "rue de la Paroisse"),
    ("Boulogne", "92100", "Boulogne-Billancourt", "route de la Reine"),
]
KINDS = ["Centre médical", "Centre de santé", "Centre dentaire", "Centre ophtalmologique"]


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


class _Handler(BaseHTTPRequestHandler):
    server: "FakeDoctolibServer"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        server = self.server
        with server.lock:
            server.request_count += 1
        if server.latency:
            time.sleep(server.latency)
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        world = server.world
        if world.block_everything:
            return self._send(403, "Anti dDos", "text/html")
        if url.path.startswith("/booking/") and url.path.endswith(".json"):
            profile = world.profiles.get(url.path[len("/booking/") : -len(".json")])
            if profile is None:
                return self._send(404, "<html><body>Page introuvable</body></html>", "text/html")
            if self._misbehave(profile):
                return None
            return self._send(200, json.dumps(profile.booking))
        if url.path == "/availabilities.json":
            first_agenda = params.get("agenda_ids", "0").split("-")[0]
            owner = world.agenda_owner(int(first_agenda)) if first_agenda.isdigit() else None
            if owner and self._misbehave(owner):
                return None
            status, payload = world.availabilities(params)
            return self._send(status, json.dumps(payload))
        return self._send(404, "<html>Not found</html>", "text/html")

    def _misbehave(self, profile: FakeProfile) -> bool:
        with self.server.lock:
            transient = profile.transient.pop(0) if profile.transient else None
        if transient:
            headers = {"Retry-After": profile.retry_after} if profile.retry_after else {}
            self._send(transient, "<html>Too many requests</html>", "text/html", headers)
            return True
        behaviour = profile.behaviour
        if behaviour == "ok":
            return False
        if behaviour == "blocked":
            self._send(403, "Anti dDos", "text/html")
        elif behaviour == "gone":
            self._send(410, '{"error":"gone"}')
        elif behaviour == "missing":
            self._send(404, "<html>Page introuvable</html>", "text/html")
        elif behaviour == "garbage":
            self._send(200, '{"data": {"profile": {"id": 1, "name_wi')
        elif behaviour == "error_payload":
            self._send(200, '{"error":"not found"}')
        elif behaviour == "slow":
            time.sleep(self.server.world.slow_seconds)
            self._send(200, json.dumps(profile.booking))
        return True

    def _send(
        self,
        status: int,
        body: str,
        content_type: str = "application/json; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)


class FakeDoctolibServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many concurrent clients (benchmark workers)

    def __init__(
        self, world: FakeWorld, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0
    ):
        super().__init__((host, port), _Handler)
        self.world = world
        self.latency = latency
        self.lock = threading.Lock()
        self.request_count = 0
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> "FakeDoctolibServer":
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


# --- world generation ------------------------------------------------------------------


def build_booking(
    *,
    profile_id: int,
    name: str,
    speciality: tuple[int, str, str],
    places: list[dict[str, Any]],
    practitioners: list[dict[str, Any]],
    motives: list[dict[str, Any]],
    agendas: list[dict[str, Any]],
) -> dict[str, Any]:
    """A /booking/{slug}.json payload in Doctolib's recorded shape."""
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
                for s in SPECIALITIES
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


def demo_world(count: int, *, seed: int = 7, today: date | None = None) -> FakeWorld:
    """`count` realistic centres, deterministic for a seed."""
    rng = random.Random(seed)
    profiles: dict[str, FakeProfile] = {}
    next_id = {"motive": 500_000, "agenda": 400_000, "practitioner": 700_000}

    def take(kind: str) -> int:
        next_id[kind] += 1
        return next_id[kind]

    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        place_name, zipcode, city, street = PLACES[index % len(PLACES)]
        suffix = f" {index // len(PLACES) + 1}" if index >= len(PLACES) else ""
        name = f"{kind} Suffren {place_name}{suffix}"
        slug = name.lower().replace(" ", "-").replace("é", "e").replace("è", "e").replace("'", "")
        profile_id = 100_000 + index
        practice_ids = [30_000 + index * 10 + k for k in range(1 + (index % 3 == 0))]
        places = [
            {
                "id": f"practice-{pid}",
                "name": f"{name} - site {k + 1}",
                "address": f"{10 + k * 7} {street}",
                "zipcode": zipcode,
                "city": city,
                "latitude": 48.85 + rng.random() / 10,
                "longitude": 2.3 + rng.random() / 10,
                "full_address": f"{10 + k * 7} {street}, {zipcode} {city}",
                "landline_number": "01 40 70 95 64",
                "practice_ids": [pid],
                "opening_hours": [
                    {"day": d, "ranges": [["09:00", "19:00"]], "enabled": d not in (0,)}
                    for d in range(7)
                ],
            }
            for k, pid in enumerate(practice_ids)
        ]
        specialities = rng.sample(SPECIALITIES, k=1 + rng.randrange(2))
        motives, practitioners, agendas = [], [], []
        schedules: dict[tuple[int, int], Schedule] = {}
        for spec in specialities:
            spec_motives = []
            for position, motive_name in enumerate(MOTIVES[: 2 + rng.randrange(2)]):
                motive = {
                    "id": take("motive"),
                    "name": motive_name,
                    "visit_motive_category_id": None,
                    "organization_id": profile_id,
                    "speciality_id": spec[0],
                    "ref_visit_motive_id": 100 + position,
                    "position": position,
                    "telehealth": False,
                    "vaccination_days_range": 0,
                    "vaccination_motive": False,
                    "first_shot_motive": False,
                    "allow_new_patients": not (position == 0 and rng.random() < 0.15),
                    "allow_new_patients_on_insurance_sector": None,
                    "configurations": None,
                }
                motives.append(motive)
                spec_motives.append(motive["id"])
            for _ in range(1 + rng.randrange(3)):
                practitioner_id = take("practitioner")
                title = "Dr " if spec[0] != 10 else ""
                full = f"{title}{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                practitioners.append(
                    {
                        "id": practitioner_id,
                        "profile_id": 900_000 + practitioner_id,
                        "name": full.split()[-1],
                        "name_with_title": full,
                        "speciality": spec[1],
                    }
                )
                practice_id = rng.choice(practice_ids)
                disabled = rng.random() < 0.05
                agenda = {
                    "id": take("agenda"),
                    "booking_disabled": disabled,
                    "booking_temporary_disabled": False,
                    "landline_number": "01 40 70 95 64",
                    "anonymous": False,
                    "organization_id": profile_id,
                    "visit_motive_ids_by_practice_id": {}
                    if disabled
                    else {str(practice_id): spec_motives},
                    "visit_motive_ids": [] if disabled else spec_motives,
                    "visit_motive_ids_only_for_doctors": None,
                    "practice_id": practice_id,
                    "speciality_id": spec[0],
                    "practitioner_id": practitioner_id,
                    "insurance_sector_enabled": False,
                    "equipment_agendas_required": False,
                }
                agendas.append(agenda)
                agenda_id = int(str(agenda["id"]))
                for motive_id in spec_motives:
                    roll = rng.random()
                    schedules[(agenda_id, int(str(motive_id)))] = (
                        Schedule(
                            "open", rng.randrange(0, 20), 1 + rng.randrange(8), 1 + rng.randrange(3)
                        )
                        if roll < 0.72
                        else Schedule("later", 35 + rng.randrange(30), 2)
                        if roll < 0.82
                        else Schedule("none")
                        if roll < 0.92
                        else Schedule("closed")
                    )
        booking = build_booking(
            profile_id=profile_id,
            name=name,
            speciality=specialities[0],
            places=places,
            practitioners=practitioners,
            motives=motives,
            agendas=agendas,
        )
        profiles[slug] = FakeProfile(
            slug=slug, booking=booking, schedules=schedules, slot_objects=index % 5 == 4
        )
    return FakeWorld(profiles=profiles, today=today or date.today())


def main() -> None:
    """`python -m aletheia.doctolib.fake`: serve a demo world, e.g. to try sync_doctolib."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8800)
    parser.add_argument("--profiles", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--block", action="store_true", help="answer 403 to everything")
    args = parser.parse_args()
    world = demo_world(args.profiles)
    world.block_everything = args.block
    server = FakeDoctolibServer(world, port=args.port, latency=args.latency)
    print(f"Doctolib-shaped server on {server.url} ({'403 to everything' if args.block else 'ok'})")
    print("profiles:", " ".join(world.profiles))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    main()
