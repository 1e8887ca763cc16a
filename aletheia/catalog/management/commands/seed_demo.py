from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aletheia.catalog.demo import DEMO_USER, demo_seed
from aletheia.catalog.models import Centre


class Command(BaseCommand):
    help = "Load demo centres by syncing them from a local Doctolib-shaped server (DEBUG only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--profiles", type=int, default=8)
        parser.add_argument("--days", type=int, default=14, help="days of history to simulate")
        parser.add_argument("--if-empty", action="store_true", help="do nothing if profiles exist")

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo loads fake centres: it runs only with DEBUG on.")
        if Centre.objects.exists():
            if options["if_empty"]:
                self.stdout.write("seed_demo: profiles exist already, nothing to do")
                return
            raise CommandError("Profiles exist already; seed_demo fills an empty database.")
        runs = demo_seed(
            count=int(options["profiles"]),  # type: ignore[call-overload]
            days=int(options["days"]),  # type: ignore[call-overload]
            progress=lambda line: self.stdout.write(f"  {line}"),
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"seed_demo: {runs} syncs; log in as {DEMO_USER[0]} / {DEMO_USER[1]}"
            )
        )
