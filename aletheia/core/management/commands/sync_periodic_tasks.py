from django.conf import settings
from django.core.management.base import BaseCommand

from aletheia.core.services import periodic_tasks_sync


class Command(BaseCommand):
    help = "Write the periodic tasks declared in settings.PERIODIC_TASKS to celery beat's tables."

    def handle(self, *args: object, **options: object) -> None:
        report = periodic_tasks_sync(declared=settings.PERIODIC_TASKS)
        for label in ("created", "updated", "unchanged", "removed"):
            names = getattr(report, label)
            self.stdout.write(f"{label:>9}: {', '.join(names) if names else '-'}")
