from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from aletheia.core.i18n import (
    TranslatorError,
    catalog_fill,
    catalogs_compile,
    translator_from_settings,
)

SOURCE_LANGUAGE = "en"
IGNORED = [".venv/*", "node_modules/*", "staticfiles/*", "tests/*", "docs/*", ".data/*"]


class Command(BaseCommand):
    help = "Extract messages, machine-translate the missing ones (DeepL if configured), compile."

    def handle(self, *args: object, **options: object) -> None:
        languages = [code for code, _ in settings.LANGUAGES]
        self.stdout.write(f"1/3 extract: makemessages for {', '.join(languages)}")
        call_command(
            "makemessages", locale=languages, ignore_patterns=IGNORED, no_location=True, verbosity=0
        )
        translator = translator_from_settings(settings.DEEPL_API_KEY, settings.DEEPL_API_URL)
        self.stdout.write(
            f"2/3 translate with {translator.name}"
            if translator
            else "2/3 translate: DEEPL_API_KEY not set, listing untranslated strings only"
        )
        for language in languages:
            if language == SOURCE_LANGUAGE:
                continue
            po_path = settings.LOCALE_PATHS[0] / language / "LC_MESSAGES" / "django.po"
            try:
                report = catalog_fill(po_path, target=language, translator=translator)
            except TranslatorError as exc:
                raise CommandError(f"{po_path}: {exc} (catalog left unchanged)") from exc
            self.stdout.write(f"    {language}: {len(report.translated)} translated")
            for msgid in report.untranslated:
                self.stdout.write(self.style.WARNING(f"    {language}: untranslated: {msgid!r}"))
        built = catalogs_compile(settings.LOCALE_PATHS[0])
        self.stdout.write(f"3/3 compile: {len(built)} catalog(s) built")
