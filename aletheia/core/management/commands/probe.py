import json
from typing import Any

from django.core.management.base import BaseCommand

from aletheia.core.health import probe


class Command(BaseCommand):
    help = (
        "What this release connects to (database, cache and broker db numbers) and whether it "
        "can, plus the last heartbeat's age. `make doctor` runs it in the web container."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON line (for the doctor)")

    def handle(self, *args: Any, **options: Any) -> None:
        report = probe()
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        for key, value in report.items():
            self.stdout.write(f"{key:<10} {value}")
