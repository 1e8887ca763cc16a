import re
from pathlib import Path

TEMPLATES = sorted(Path("aletheia").rglob("*.html"))


def test_templates_have_no_inline_event_handlers_or_scripts() -> None:
    """A Content-Security-Policy without 'unsafe-inline' must not break any page."""
    assert TEMPLATES
    for template in TEMPLATES:
        text = template.read_text()
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert not re.search(r"<script(?![^>]*\ssrc=)", text), template
