"""Filling gettext catalogs with machine translations (`make i18n-update`).

msgids are English. A translator turns a batch of English strings into a target language;
`catalog_fill` writes what it gets into a .po file and reports what is still missing.
"""

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import polib

# python-format (%(name)s, %s, %d) and brace-format ({name}) placeholders must survive intact.
PLACEHOLDER = re.compile(r"%\(\w+\)[sdifr]|%[sdifr]|\{\w*\}")
MACHINE_COMMENT = "machine-translated: please review"


class TranslatorError(RuntimeError):
    pass


class Translator(Protocol):
    name: str

    def translate(self, texts: list[str], *, source: str, target: str) -> list[str]: ...


def protect_placeholders(text: str) -> str:
    escaped = html.escape(text, quote=False)
    return PLACEHOLDER.sub(lambda m: f"<x>{m.group(0)}</x>", escaped)


def restore_placeholders(text: str) -> str:
    return html.unescape(text.replace("<x>", "").replace("</x>", ""))


class DeepLTranslator:
    """DeepL's REST API (POST /v2/translate). Free-plan keys end in ':fx'."""

    name = "DeepL"
    batch_size = 50

    def __init__(self, api_key: str, api_url: str = "", timeout: float = 30.0) -> None:
        default_url = (
            "https://api-free.deepl.com" if api_key.endswith(":fx") else "https://api.deepl.com"
        )
        self.client = httpx.Client(
            base_url=api_url or default_url,
            headers={"Authorization": f"DeepL-Auth-Key {api_key}"},
            timeout=timeout,
        )

    def translate(self, texts: list[str], *, source: str, target: str) -> list[str]:
        out: list[str] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            out.extend(self._translate_batch(batch, source=source, target=target))
        return out

    def _translate_batch(self, texts: list[str], *, source: str, target: str) -> list[str]:
        body = {
            "text": [protect_placeholders(t) for t in texts],
            "source_lang": source.upper(),
            "target_lang": target.upper(),
            "tag_handling": "xml",
            "ignore_tags": ["x"],
        }
        try:
            response = self.client.post("/v2/translate", json=body)
        except httpx.HTTPError as exc:
            raise TranslatorError(f"DeepL request failed: {exc}") from exc
        if response.status_code != 200:
            raise TranslatorError(f"DeepL answered {response.status_code}: {response.text[:200]}")
        try:
            translations = [item["text"] for item in response.json()["translations"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise TranslatorError(f"DeepL answered malformed JSON: {response.text[:200]}") from exc
        if len(translations) != len(texts):
            raise TranslatorError(f"DeepL returned {len(translations)} texts for {len(texts)}")
        return [restore_placeholders(t) for t in translations]


@dataclass
class CatalogReport:
    path: Path
    translated: list[str] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)


def catalog_fill(
    po_path: Path, *, target: str, translator: Translator | None, source: str = "en"
) -> CatalogReport:
    """Translate the catalog's empty msgstrs; without a translator, only list them.

    The file is written once, after every batch succeeded: a failed translator leaves it
    as it was.
    """
    catalog = polib.pofile(str(po_path))
    missing = [e for e in catalog.untranslated_entries() if not e.obsolete]
    report = CatalogReport(path=po_path)
    if translator is None or not missing:
        report.untranslated = [e.msgid for e in missing]
        return report
    texts: list[str] = []
    for entry in missing:
        texts.append(entry.msgid)
        if entry.msgid_plural:
            texts.append(entry.msgid_plural)
    results = iter(translator.translate(texts, source=source, target=target))
    for entry in missing:
        if entry.msgid_plural:
            singular, plural = next(results), next(results)
            entry.msgstr_plural = {0: singular, 1: plural}
        else:
            entry.msgstr = next(results)
        if MACHINE_COMMENT not in entry.tcomment:
            entry.tcomment = "\n".join(filter(None, [entry.tcomment, MACHINE_COMMENT]))
        report.translated.append(entry.msgid)
    catalog.save(str(po_path))
    return report


def translator_from_settings(api_key: str, api_url: str) -> Translator | None:
    return DeepLTranslator(api_key, api_url) if api_key else None


def catalogs_compile(locale_dir: Path) -> list[Path]:
    """Build every django.mo from its django.po (pure Python: no GNU gettext needed)."""
    built = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/django.po")):
        mo_path = po_path.with_suffix(".mo")
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        built.append(mo_path)
    return built
