"""`make bench-web`: the dashboard as production serves it, at several sizes, under a fixed
request rate.

For each size (default 8, 60 and 300 centres): a throwaway PostgreSQL database; centres
followed and synced once through the real sync code against the local Doctolib-shaped server;
then `--days` of history written with the same models (a row per centre per day, a snapshot
per agenda x motive per day, every 3 hours for the high-churn tenth of centres, runs every
15 minutes, state changes, divergences opened and resolved). Then gunicorn (gthread, 2
workers x 4 threads, production settings) is started and each page is asked at a fixed rate
(open loop: latency counts from when the request was due, so queueing shows). Prints p50,
p95, p99, requests/s achieved, queries per page and the cold time (one request in-process
right after a change, when no cached rendering exists), the sizes side by side. Asserts
nothing.
"""

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("overview", "centre", "csv")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="8,60,300", help="numbers of centres")
    parser.add_argument("--days", type=int, default=365, help="days of history")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="per page and size")
    parser.add_argument(
        "--change-every",
        type=float,
        default=0.0,
        help="seconds between data changes during the load, as a sync run makes them "
        "(each expires the cached renderings); 0: none",
    )
    args = parser.parse_args(argv)
    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    results: dict[int, dict[str, dict[str, float]]] = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        database = f"aletheia_benchweb_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        env = {
            **os.environ,
            "DATABASE_URL": f"{server}/{database}",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"),
            "REDIS_CACHE_DB": "12",
            "REDIS_BROKER_DB": "12",
        }
        try:
            print(f"bench-web: {size} centres, {args.days} days of history …", flush=True)
            started = time.monotonic()
            facts = _facts(
                ["build", str(size), str(args.days)],
                {
                    **env,
                    "DJANGO_SETTINGS_MODULE": "config.settings.development",
                    "DJANGO_DEBUG": "false",
                },
            )
            print(f"  built in {time.monotonic() - started:.0f}s: {facts['snapshots']} snapshots")
            web_env = _web_env(env)
            facts |= _facts(["session"], web_env)
            results[size] = _load(web_env, facts, args)
        finally:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    _print(results, args)
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _facts(arguments: list[str], env: dict[str, str]) -> dict[str, str]:
    done = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "aletheia.dashboard.bench_data", *arguments],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"bench-web: {' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    return dict(line.split("=", 1) for line in done.stdout.split() if "=" in line)


def _web_env(env: dict[str, str]) -> dict[str, str]:
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "ALETHEIA_ENV": "bench",
        "ALETHEIA_HOST": "bench.invalid",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
        "ALETHEIA_EMAIL": "console",
        "DJANGO_LOG_LEVEL": "WARNING",
    }


def _load(web_env: dict[str, str], facts: dict[str, str], args: argparse.Namespace) -> dict:
    port = _free_port()
    gunicorn = subprocess.Popen(  # noqa: S603 - our own command line
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "30",
        ],
        env=web_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(port)
        headers = {
            "Cookie": f"sessionid={facts['session']}; django_language=fr",
            "X-Forwarded-Proto": "https",
            "Host": "127.0.0.1",
        }
        centres = facts["centres"].split(",")
        paths = {
            "overview": lambda i: "/dashboard/",
            "centre": lambda i: f"/dashboard/centres/{centres[i % len(centres)]}/",
            "csv": lambda i: "/dashboard/export.csv",
        }
        out = {}
        changes = _changes(facts, args.change_every)
        for page in PAGES:
            _run(port, headers, paths[page], rate=args.rate, seconds=2)  # warm up
            stats = _run(port, headers, paths[page], rate=args.rate, seconds=args.seconds)
            stats["queries"] = float(facts[f"queries_{page}"])
            stats["cold"] = float(facts[f"cold_{page}"])
            out[page] = stats
        return out
    finally:
        if changes:
            changes.set()
        gunicorn.terminate()
        gunicorn.wait(10)


def _changes(facts: dict[str, str], every: float) -> threading.Event | None:
    """Bump the data version every `every` seconds, as a sync run does once per centre."""
    if every <= 0:
        return None
    import redis

    stop = threading.Event()
    client = redis.Redis.from_url(facts["cache_url"])

    def bump() -> None:
        while not stop.wait(every):
            client.incr(facts["version_key"])

    threading.Thread(target=bump, daemon=True).start()
    return stop


def _wait(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def _run(port: int, headers: dict[str, str], path_of, *, rate: float, seconds: float) -> dict:
    """Open loop: request i is due at start + i/rate, whoever is free sends it."""
    total = int(rate * seconds)
    start = time.monotonic() + 0.2
    lock = threading.Lock()
    state = {"next": 0}
    latencies: list[float] = []
    errors: list[int] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                index = state["next"]
                state["next"] += 1
            if index >= total:
                break
            due = start + index / rate
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                conn.request("GET", path_of(index), headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(response.status)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                errors.append(0)
            with lock:
                latencies.append(time.monotonic() - due)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return {
        "p50": statistics.median(ordered) * 1000,
        "p95": pct(0.95),
        "p99": pct(0.99),
        "rps": len(ordered) / elapsed,
        "errors": float(len(errors)),
    }


def _print(results: dict[int, dict[str, dict[str, float]]], args: argparse.Namespace) -> None:
    sizes = sorted(results)
    changes = f", data changed every {args.change_every:g} s" if args.change_every else ""
    print(
        f"\nbench-web: gunicorn gthread 2x4, production settings, {args.rate:g} req/s for "
        f"{args.seconds:g} s per page, {args.days} days of history{changes}"
    )
    head = "page      " + "".join(
        f"| {s:>4} centres: p50 / p95 / p99 ms, req/s, queries, cold ms " for s in sizes
    )
    print(head)
    for page in PAGES:
        cells = []
        for size in sizes:
            r = results[size][page]
            bad = f" ({r['errors']:.0f} errors)" if r["errors"] else ""
            cells.append(
                f"| {r['p50']:6.1f} / {r['p95']:6.1f} / {r['p99']:6.1f}, {r['rps']:5.1f}, "
                f"{r['queries']:3.0f}, {r['cold']:5.0f}{bad} "
            )
        print(f"{page:<10}" + "".join(cells))


if __name__ == "__main__":
    sys.exit(main())
