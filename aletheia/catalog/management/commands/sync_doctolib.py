import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from aletheia.catalog import selectors, services
from aletheia.catalog.models import SyncRun
from aletheia.doctolib.factory import client_from_settings


class Command(BaseCommand):
    help = "Sync followed centres from Doctolib in this process, with progress and a summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", help="profile slugs to sync")
        parser.add_argument("--all", action="store_true", help="every followed profile")
        parser.add_argument(
            "--kind",
            choices=[k.value for k in SyncRun.Kind],
            default=SyncRun.Kind.FULL,
            help="profiles (catalog), availabilities, or full (both; default)",
        )
        parser.add_argument(
            "--allow-partial",
            action="store_true",
            help="exit 0 when some centres failed but others synced (default: exit 1)",
        )

    def handle(self, *args: object, **options: object) -> None:
        slugs = list(options["slugs"])  # type: ignore[call-overload]
        if bool(slugs) == bool(options["all"]):
            raise CommandError("Give profile slugs or --all (not both).")
        profiles = list(selectors.profiles_to_sync(slugs or None))
        unknown = sorted(set(slugs) - {p.slug for p in profiles})
        if unknown:
            raise CommandError(f"Not tracked (or not followed): {', '.join(unknown)}")
        if not profiles:
            raise CommandError("No followed profile: add some in the admin (Centres).")

        client = client_from_settings()
        started = time.monotonic()
        bar = tqdm(total=len(profiles), unit="profile", file=self.stderr, disable=None)
        failures: list[str] = []

        def on_profile(outcome: services.ProfileOutcome) -> None:
            bar.update(1)
            bar.set_postfix_str(outcome.profile.slug[:30])
            if not outcome.ok:
                failures.append(f"{outcome.profile.slug}: {outcome.error}")

        try:
            run = services.sync_run_execute(
                kind=str(options["kind"]), profiles=profiles, client=client, on_profile=on_profile
            )
        finally:
            bar.close()
            client.close()
        elapsed = time.monotonic() - started
        # one language (English) for operators and logs, whatever LANGUAGE_CODE says
        self.stdout.write(
            f"{run.kind} sync: {run.profiles_ok}/{run.profiles_total} centres ok, "
            f"{run.profiles_failed} failed, {run.requests} requests, {run.changes} changes, "
            f"{elapsed:.1f}s (run #{run.pk}: {run.status})"
        )
        for failure in failures:
            self.stdout.write(self.style.WARNING(f"  {failure}"))
        if run.status == SyncRun.Status.BLOCKED:
            raise CommandError(run.message)
        if run.status == SyncRun.Status.FAILED:
            raise CommandError("Every centre failed: see the errors above.")
        if run.status == SyncRun.Status.PARTIAL and not options["allow_partial"]:
            raise CommandError(
                f"{run.profiles_failed} centre(s) failed (see above); "
                "--allow-partial exits 0 in that case."
            )
