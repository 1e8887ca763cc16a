from django.conf import settings
from django.core.management.base import BaseCommand

from aletheia.core.i18n import catalogs_compile


class Command(BaseCommand):
    help = "Build locale/*/LC_MESSAGES/django.mo from the .po files (no GNU gettext needed)."

    def handle(self, *args: object, **options: object) -> None:
        for mo_path in catalogs_compile(settings.LOCALE_PATHS[0]):
            self.stdout.write(f"built {mo_path.relative_to(settings.BASE_DIR)}")
