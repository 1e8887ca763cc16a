import json
from pathlib import Path

import polib
import pytest
from django.core.management import call_command
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aletheia.core.i18n import (
    MACHINE_COMMENT,
    DeepLTranslator,
    TranslatorError,
    catalog_fill,
    catalogs_compile,
    protect_placeholders,
    restore_placeholders,
)

FRENCH = {
    "Hello": "Bonjour",
    "Next slot in <x>%(days)s</x> days": "Prochain créneau dans <x>%(days)s</x> jours",
    "One centre": "Un centre",
    "<x>%(n)s</x> centres": "<x>%(n)s</x> centres",
    "Fish &amp; chips": "Poisson &amp; frites",
}


def deepl_handler(request: Request) -> Response:
    body = json.loads(request.data)
    translations = [
        {"detected_source_language": "EN", "text": FRENCH.get(text, f"FR:{text}")}
        for text in body["text"]
    ]
    return Response(json.dumps({"translations": translations}), content_type="application/json")


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    po = polib.POFile()
    po.metadata = {
        "Content-Type": "text/plain; charset=UTF-8",
        "Plural-Forms": "nplurals=2; plural=(n > 1);",
    }
    po.append(polib.POEntry(msgid="Hello"))
    po.append(polib.POEntry(msgid="Next slot in %(days)s days", flags=["python-format"]))
    po.append(
        polib.POEntry(
            msgid="One centre", msgid_plural="%(n)s centres", msgstr_plural={0: "", 1: ""}
        )
    )
    po.append(polib.POEntry(msgid="Fish & chips"))
    po.append(polib.POEntry(msgid="Already", msgstr="Déjà"))
    path = tmp_path / "django.po"
    po.save(str(path))
    return path


def test_placeholders_survive_the_round_trip() -> None:
    protected = protect_placeholders("In %(days)s days, {name} & %s <b>")
    assert protected == "In <x>%(days)s</x> days, <x>{name}</x> &amp; <x>%s</x> &lt;b&gt;"
    assert restore_placeholders(protected) == "In %(days)s days, {name} & %s <b>"


def test_deepl_fills_missing_entries(httpserver: HTTPServer, catalog: Path) -> None:
    httpserver.expect_request(
        "/v2/translate", method="POST", headers={"Authorization": "DeepL-Auth-Key k3y"}
    ).respond_with_handler(deepl_handler)
    translator = DeepLTranslator("k3y", api_url=httpserver.url_for(""))

    report = catalog_fill(catalog, target="fr", translator=translator)

    assert sorted(report.translated) == [
        "Fish & chips",
        "Hello",
        "Next slot in %(days)s days",
        "One centre",
    ]
    po = polib.pofile(str(catalog))
    by_id = {e.msgid: e for e in po}
    assert by_id["Hello"].msgstr == "Bonjour"
    assert by_id["Next slot in %(days)s days"].msgstr == "Prochain créneau dans %(days)s jours"
    assert by_id["One centre"].msgstr_plural == {0: "Un centre", 1: "%(n)s centres"}
    assert by_id["Fish & chips"].msgstr == "Poisson & frites"
    assert by_id["Already"].msgstr == "Déjà"
    assert MACHINE_COMMENT in by_id["Hello"].tcomment
    sent = json.loads(httpserver.log[0][0].data)
    assert sent["target_lang"] == "FR"
    assert sent["source_lang"] == "EN"
    assert sent["tag_handling"] == "xml"
    assert sent["ignore_tags"] == ["x"]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (403, "Forbidden", "DeepL answered 403"),
        (456, '{"message": "Quota exceeded"}', "DeepL answered 456"),
        (200, "<html>not json</html>", "malformed JSON"),
        (200, '{"translations": [{"text": "only one"}]}', "returned 1 texts for 5"),
    ],
)
def test_deepl_errors_leave_the_catalog_unchanged(
    httpserver: HTTPServer, catalog: Path, status: int, body: str, message: str
) -> None:
    httpserver.expect_request("/v2/translate").respond_with_data(body, status=status)
    before = catalog.read_bytes()
    with pytest.raises(TranslatorError, match=message):
        catalog_fill(
            catalog, target="fr", translator=DeepLTranslator("k", api_url=httpserver.url_for(""))
        )
    assert catalog.read_bytes() == before


def test_free_plan_keys_use_the_free_endpoint() -> None:
    assert str(DeepLTranslator("abc:fx").client.base_url) == "https://api-free.deepl.com"
    assert str(DeepLTranslator("abc").client.base_url) == "https://api.deepl.com"


def test_without_translator_untranslated_strings_are_listed(catalog: Path) -> None:
    before = catalog.read_bytes()
    report = catalog_fill(catalog, target="fr", translator=None)
    assert "Hello" in report.untranslated
    assert "Already" not in report.untranslated
    assert catalog.read_bytes() == before


def test_compiled_catalog_translates(tmp_path: Path, catalog: Path) -> None:
    import gettext

    locale_dir = tmp_path / "locale"
    (locale_dir / "fr" / "LC_MESSAGES").mkdir(parents=True)
    po = polib.pofile(str(catalog))
    po.save(str(locale_dir / "fr" / "LC_MESSAGES" / "django.po"))
    [mo_path] = catalogs_compile(locale_dir)
    with mo_path.open("rb") as handle:
        assert gettext.GNUTranslations(handle).gettext("Already") == "Déjà"


def test_project_french_catalog_is_complete() -> None:
    """Every string the project marks for translation has a French translation."""
    po = polib.pofile("locale/fr/LC_MESSAGES/django.po")
    assert [e.msgid for e in po.untranslated_entries() if not e.obsolete] == []
    assert po.fuzzy_entries() == []


def test_compile_translations_command_builds_mo_files(capsys) -> None:
    call_command("compile_translations")
    assert "locale/fr/LC_MESSAGES/django.mo" in capsys.readouterr().out
