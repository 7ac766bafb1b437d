"""The survey page's translations: every message of the page translated in French and Italian, and the compiled
catalogs committed (the .mo files the server reads) up to date with their .po sources."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import translation

CATALOGS = Path(__file__).resolve().parents[2] / "feedback" / "locale"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
@pytest.mark.parametrize("language", ["en", "fr", "it"])
def test_the_committed_catalog_is_compiled_from_its_source(language, tmp_path):
    messages = CATALOGS / language / "LC_MESSAGES"
    compiled = tmp_path / "django.mo"

    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(messages / "django.po")], check=True,
                   capture_output=True)

    assert compiled.read_bytes() == (messages / "django.mo").read_bytes()


@pytest.mark.parametrize("language", ["fr", "it"])
def test_every_message_of_the_page_is_translated(language):
    entries = (CATALOGS / language / "LC_MESSAGES" / "django.po").read_text().split("\n\n")[1:]  # after the header

    untranslated = [entry for entry in entries if re.search(r'^msgstr ""$', entry, flags=re.MULTILINE)]
    assert (len(entries), untranslated) == (29, [])
    with translation.override(language):
        assert translation.gettext("Choose a score.") != "Choose a score."
