"""`make bench-sync`: a full sync of many profiles against the local Doctolib-shaped server.

Runs against real PostgreSQL (a throwaway database) and Redis (the shared rate limiter), with
worker threads standing in for Celery workers. Prints figures; asserts nothing.
"""

import argparse
import os
import resource
import sys
import threading
import time
import uuid

import psycopg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=200)
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds added to each response"
    )
    parser.add_argument("--rate", type=float, default=50.0, help="DOCTOLIB_RATE_PER_SECOND")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)

    server_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    database = f"aletheia_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.development",
        DATABASE_URL=f"{server_url}/{database}",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"),
        REDIS_CACHE_DB="13",
        REDIS_BROKER_DB="13",
        DOCTOLIB_RATE_PER_SECOND=str(args.rate),
        DJANGO_DEBUG="false",
    )
    try:
        return _run(args)
    finally:
        with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _run(args: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from aletheia.catalog import services
    from aletheia.catalog.models import Centre, SyncRun
    from aletheia.doctolib.factory import circuit_breaker_from_settings, client_from_settings
    from fakedoctolib import FakeDoctolibServer, demo_world

    call_command("migrate", verbosity=0)
    world = demo_world(args.profiles)
    profiles = Centre.objects.bulk_create(Centre(slug=s) for s in world.profiles)
    settings.DOCTOLIB_CIRCUIT_KEY = f"bench:{uuid.uuid4().hex}"
    circuit_breaker_from_settings().reset()
    print(
        f"bench-sync: {args.profiles} profiles, {args.latency * 1000:.0f} ms latency, "
        f"rate limit {args.rate:g} req/s (Redis), {args.workers} workers"
    )

    def one_pass(label: str) -> None:
        run = services.sync_run_start(kind=SyncRun.Kind.FULL, profiles_total=len(profiles))
        queue = list(profiles)
        lock = threading.Lock()
        queries: list[int] = []
        started = time.monotonic()

        def worker() -> None:
            client = client_from_settings()
            try:
                while True:
                    with lock:
                        if not queue:
                            return
                        profile = queue.pop()
                    with CaptureQueriesContext(connection) as captured:
                        outcome = services.profile_run_one(
                            profile=profile,
                            kind=SyncRun.Kind.FULL,
                            client=client,
                            now=timezone.now(),
                        )
                        services.sync_result_record(run, outcome)
                    with lock:
                        queries.append(len(captured.captured_queries))
                        done = len(queries)
                    if done % 50 == 0:
                        print(
                            f"  {label}: {done}/{len(profiles)} profiles, {time.monotonic() - started:.1f}s"
                        )
            finally:
                client.close()
                connection.close()

        with FakeDoctolibServer(world, latency=args.latency) as server:
            settings.DOCTOLIB_BASE_URL = server.url
            threads = [threading.Thread(target=worker) for _ in range(args.workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            requests = server.request_count
        elapsed = time.monotonic() - started
        run = services.sync_run_finish(run=run)
        print(
            f"{label}: {run.profiles_ok}/{run.profiles_total} ok in {elapsed:.1f}s | "
            f"{run.profiles_total / elapsed:.2f} profiles/s | {requests} requests, "
            f"{requests / elapsed:.1f} req/s (limit {args.rate:g}) | "
            f"{sum(queries) / len(queries):.1f} queries/profile (max {max(queries)}) | "
            f"{run.changes} changes"
        )
        for result in run.results.filter(ok=False)[:5]:
            print(f"  failed: {result.profile.slug}: {result.error}")

    one_pass("first sync")
    one_pass("second sync")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
