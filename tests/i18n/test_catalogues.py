"""The message catalogues are complete: every translatable string in the code and templates is in
messages.pot, and each shipped language translates every one of them (no missing, no fuzzy, the same
placeholders), compiled into the .mo files the app reads."""

import gettext
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from mailer.core.i18n import LANGUAGES, TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _ids(catalog) -> set:
    return {message.id for message in catalog if message.id}


def _read(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set:
    """Run the extraction the README gives, into a temporary file."""
    out = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [
            *(sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg"),
            *("-k", "lazy_gettext", "-o", str(out), "--no-location", "--omit-header", "."),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return _ids(_read(out))


def test_every_string_is_extracted_into_the_committed_template(extracted):
    committed = _ids(_read(Path(TRANSLATIONS) / "messages.pot"))
    assert extracted, "nothing was extracted"
    missing, stale = extracted - committed, committed - extracted
    assert not missing, f"run pybabel extract/update (README, Languages): not in messages.pot: {missing}"
    assert not stale, f"messages.pot holds strings no longer in the code: {stale}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_translates_every_string(language, extracted):
    catalog = _read(Path(TRANSLATIONS) / language / "LC_MESSAGES" / "messages.po")
    assert _ids(catalog) == extracted
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, f"{language}: fuzzy {message.id!r}"
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert len(strings) == (catalog.num_plurals if message.pluralizable else 1), message.id
        source = message.id[-1] if message.pluralizable else message.id
        for text in strings:
            assert text, f"{language}: untranslated {message.id!r}"
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), (language, text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_is_the_current_one(language, tmp_path):
    """A .po edited without `pybabel compile` would leave the app reading old words."""
    folder = Path(TRANSLATIONS) / language / "LC_MESSAGES"
    fresh = tmp_path / "messages.mo"
    with fresh.open("wb") as handle:
        write_mo(handle, _read(folder / "messages.po"))
    with fresh.open("rb") as a, (folder / "messages.mo").open("rb") as b:
        expected, shipped = gettext.GNUTranslations(a), gettext.GNUTranslations(b)
    assert shipped._catalog == expected._catalog  # type: ignore[attr-defined]


def test_the_catalogues_ship_with_the_package():
    """Installed (not only from a checkout) the app must find them: setuptools package data."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"translations/*/LC_MESSAGES/*.mo"' in pyproject
    assert Path(TRANSLATIONS).parent == ROOT / "mailer"
