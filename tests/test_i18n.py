"""Both catalogs complete: same keys, same placeholders, and every key the code asks for exists."""
import pathlib
import re
import string

import pytest

from lib import i18n
from lib.diagnosis import Diagnosis

ROOT = pathlib.Path(__file__).resolve().parent.parent


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_same_keys_in_both_languages():
    es, en = i18n.catalog("es"), i18n.catalog("en")
    assert sorted(set(es) ^ set(en)) == []
    assert [p.name for p in i18n.catalog_files("es")] == [p.name for p in i18n.catalog_files("en")]


def test_no_key_in_two_files():
    import json
    for lang in i18n.LANGUAGES:
        seen = {}
        for path in i18n.catalog_files(lang):
            for key in json.loads(path.read_text(encoding="utf-8")):
                assert key not in seen, f"{key} in {seen.get(key)} and {path.name}"
                seen[key] = path.name


def test_same_placeholders_and_no_empty_text():
    es, en = i18n.catalog("es"), i18n.catalog("en")
    for key in es:
        assert es[key].strip() and en[key].strip(), key
        assert placeholders(es[key]) == placeholders(en[key]), key


def keys_in_code() -> set[str]:
    pattern = re.compile(r"""\bt\(\s*["']([a-z_]+(?:\.[a-z_0-9]+)+|yes|no)["']""")
    found = set()
    for path in list((ROOT / "lib").rglob("*.py")) + list((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]:
        found |= set(pattern.findall(path.read_text(encoding="utf-8")))
    for path in (ROOT / "lib").rglob("*.py"):  # keys held in data: Check(..., "check.x.y"), PATTERNS
        found |= set(re.findall(r'"((?:check|log)\.[a-z_]+(?:\.[a-z_]+)?)"', path.read_text()))
    return found


def test_every_literal_key_in_the_code_exists():
    missing = sorted(k for k in keys_in_code() if k not in i18n.catalog("en"))
    assert len(keys_in_code()) > 60
    assert missing == []


@pytest.mark.parametrize("kind", ["host_empty", "host_spaces", "host_scheme", "host_port",
                                  "host_not_allowed", "refused", "dns", "unreachable",
                                  "timeout_connect", "timeout_read", "not_ollama", "model_not_found",
                                  "out_of_memory", "stream_error", "malformed", "http_error", "unknown"])
def test_every_diagnosis_has_both_texts(kind):
    diagnosis = Diagnosis(kind, "detail")
    for lang in i18n.LANGUAGES:
        assert diagnosis.title_key in i18n.catalog(lang) and diagnosis.advice_key in i18n.catalog(lang)


def test_translate_fills_placeholders_and_survives_a_missing_key():
    assert i18n.translate("en", "badge.up", version="0.33.0", latency="12") == "Ollama 0.33.0 · 12 ms"
    assert i18n.translate("es", "age.past", amount=41, unit="segundos") == "hace 41 segundos"
    assert i18n.translate("en", "no.such.key") == "no.such.key"
    assert i18n.translate("fr", "yes") == "Sí"  # unknown language: Spanish, the course's


@pytest.mark.parametrize("query, locale, expected", [
    ("en", "es-ES", "en"), ("es", "en-US", "es"), (None, "en-GB", "en"), (None, "es-MX", "es"),
    (None, "de-DE", "es"), ("xx", None, "es"), (None, "EN_us", "en"),
])
def test_language_choice(query, locale, expected):
    assert i18n.pick_language(query, locale) == expected
