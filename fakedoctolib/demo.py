"""Demo data for the fake Doctolib: realistic, deterministic centres (names, places, agendas)."""

import random
from datetime import date

from fakedoctolib.world import FakeProfile, FakeWorld, Schedule, build_booking

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
# which specialities each kind of centre offers (a dental centre has no dermatologist)
KIND_SPECIALITIES = {
    "Centre médical": [2, 8, 13, 10],
    "Centre de santé": [2, 8, 13, 10, 1],
    "Centre dentaire": [1],
    "Centre ophtalmologique": [5],
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
        offered = [s for s in SPECIALITIES if s[0] in KIND_SPECIALITIES[kind]]
        specialities = rng.sample(offered, k=min(len(offered), 1 + rng.randrange(2)))
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
            specialities=SPECIALITIES,
            places=places,
            practitioners=practitioners,
            motives=motives,
            agendas=agendas,
        )
        profiles[slug] = FakeProfile(
            slug=slug, booking=booking, schedules=schedules, slot_objects=index % 5 == 4
        )
    return FakeWorld(profiles=profiles, today=today or date.today())
