"""Datasets for `make bench-web` (run by aletheia.dashboard.bench in a subprocess).

`python -m aletheia.dashboard.bench_data build SIZE DAYS`: SIZE centres synced through the real
sync code against the local Doctolib-shaped server on the first and the last day, and DAYS of
history in between written with the same models. `… session`: a staff session and the number
of queries each page makes (under the settings gunicorn uses). Prints `name=value` facts.
"""

import random
import sys
import time as clock
from datetime import datetime, time, timedelta


def build(size: int, days: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from aletheia.catalog import services
    from aletheia.catalog.models import (
        AvailabilitySnapshot,
        Centre,
        CentreDay,
        CentreStateChange,
        Divergence,
        SyncResult,
        SyncRun,
    )
    from aletheia.doctolib.client import ClientConfig, DoctolibClient
    from aletheia.doctolib.parsing import PARIS
    from fakedoctolib import FakeDoctolibServer, demo_world

    call_command("migrate", verbosity=0)
    rng = random.Random(size)  # noqa: S311 - test data
    today = timezone.localdate()
    first = today - timedelta(days=days)
    world = demo_world(size, today=first)
    centres = list(Centre.objects.bulk_create(Centre(slug=slug) for slug in world.profiles))

    def at(day, hour=8):
        return datetime.combine(day, time(hour), tzinfo=PARIS)

    with FakeDoctolibServer(world) as server:
        client = DoctolibClient(ClientConfig(base_url=server.url, user_agent="aletheia-bench"))
        services.sync_run_execute(
            kind=SyncRun.Kind.FULL,
            profiles=centres,
            client=client,
            now=services.fixed_clock(at(first)),
        )
        pairs: dict[int, list[tuple[int, int]]] = {}
        for agenda_id, motive_id, centre_id in AvailabilitySnapshot.objects.values_list(
            "agenda_id", "motive_id", "agenda__profile_id"
        ):
            pairs.setdefault(centre_id, []).append((agenda_id, motive_id))
        churn = {c.pk for c in centres[: max(1, size // 10)]}
        batch: list = []

        def flush(model, force=False):
            if batch and (force or len(batch) >= 5000):
                model.objects.bulk_create(batch)
                batch.clear()

        for offset in range(1, days):
            day = first + timedelta(days=offset)
            for centre in centres:
                slots = max(0, int(rng.gauss(40, 15)))
                batch.append(
                    CentreDay(
                        centre=centre,
                        day=day,
                        state="ok",
                        slots_7=slots,
                        slots_28=slots * 4,
                        new_patient_slots_7=slots // 2,
                        days_to_next_slot=round(rng.random() * 9, 2),
                    )
                )
                flush(CentreDay)
        flush(CentreDay, force=True)
        for offset in range(1, days):
            day = first + timedelta(days=offset)
            for centre in centres:
                per_day = 8 if centre.pk in churn else 1
                for k in range(per_day):
                    moment = at(day) + timedelta(hours=3 * k)
                    for agenda_id, motive_id in pairs.get(centre.pk, []):
                        n = rng.randrange(0, 30)
                        batch.append(
                            AvailabilitySnapshot(
                                agenda_id=agenda_id,
                                motive_id=motive_id,
                                taken_at=moment,
                                status="open" if n else "none",
                                next_slot=moment + timedelta(days=rng.randrange(1, 20))
                                if n
                                else None,
                                slots_7=n,
                                slots_14=n * 2,
                                slots_28=n * 4,
                                is_latest=False,
                            )
                        )
                    flush(AvailabilitySnapshot)
        flush(AvailabilitySnapshot, force=True)
        runs = SyncRun.objects.bulk_create(
            SyncRun(
                kind="availabilities",
                status="succeeded",
                started_at=moment,
                finished_at=moment + timedelta(seconds=40),
                profiles_total=size,
                profiles_ok=size,
            )
            for offset in range(1, days)
            for moment in [
                at(first + timedelta(days=offset), 0) + timedelta(minutes=15 * q) for q in range(96)
            ]
        )
        daily = runs[::96]
        for run in daily:
            for centre in centres:
                batch.append(SyncResult(run=run, profile=centre, ok=True, requests=10, seconds=0.4))
            flush(SyncResult)
        flush(SyncResult, force=True)
        for centre in centres:
            for k in range(3):
                opened = at(first + timedelta(days=rng.randrange(1, max(2, days - 1))))
                batch.append(
                    Divergence(
                        profile=centre,
                        kind="booking_disabled",
                        subject=f"agenda:{k}",
                        detail="bench",
                        params={"who": f"agenda {k}"},
                        opened_at=opened,
                        resolved_at=opened + timedelta(days=2),
                    )
                )
                batch.append(
                    CentreStateChange(
                        centre=centre, state=rng.choice(["full", "ok", "error"]), at=opened
                    )
                )
        Divergence.objects.bulk_create(b for b in batch if isinstance(b, Divergence))
        CentreStateChange.objects.bulk_create(b for b in batch if isinstance(b, CentreStateChange))
        batch.clear()
        world.today = today
        services.sync_run_execute(
            kind=SyncRun.Kind.FULL,
            profiles=centres,
            client=client,
            now=services.fixed_clock(timezone.now()),
        )
        client.close()
    sample = sorted(churn)[:3] + [c.pk for c in centres[len(churn) :][:7]]
    print(f"centres={','.join(map(str, sample))}")
    print(f"snapshots={AvailabilitySnapshot.objects.count()}")


def session() -> None:
    import django

    django.setup()
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from aletheia.catalog.models import Centre
    from aletheia.catalog.services.state import data_changed

    user = get_user_model().objects.create_user("bench", password=None, is_staff=True)
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    print(f"session={store.session_key}")
    from django.core.cache import cache

    from aletheia.catalog.selectors import DATA_VERSION_KEY

    # where the data version lives, so the bench can play "a centre was just synced"
    print(f"version_key={cache.make_key(DATA_VERSION_KEY)}")
    print(f"cache_url={settings.CACHES['default']['LOCATION']}")
    client = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="127.0.0.1")
    client.force_login(user)
    centre = Centre.objects.order_by("pk").first()
    for page, path in (
        ("overview", "/dashboard/"),
        ("centre", f"/dashboard/centres/{centre.pk if centre else 0}/"),
        ("csv", "/dashboard/export.csv"),
    ):
        cold = []
        for _ in range(5):  # the cold path: no cached rendering (as after each sync)
            data_changed()
            started = clock.perf_counter()
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path, secure=True)
            cold.append(clock.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code)
        # the session and user reads are the same on every page; counted in
        print(f"queries_{page}={len(captured.captured_queries)}")
        print(f"cold_{page}={sorted(cold)[2] * 1000:.0f}")


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(int(sys.argv[2]), int(sys.argv[3]))
    else:
        session()
