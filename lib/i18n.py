"""Spanish and English for every user-visible string.

Catalogs are flat JSON files, `assets/i18n/<lang>.json`, key -> text with `{name}` placeholders.
Both must hold the same keys (a test checks); a missing key shows as the key itself rather than
crashing a page, so a slip is visible but harmless.
"""
from __future__ import annotations

import functools
import json
import pathlib

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"  # the course is in Spanish
CATALOG_DIR = pathlib.Path(__file__).resolve().parent.parent / "assets" / "i18n"


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    return json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))


def translate(lang: str, key: str, **values) -> str:
    text = catalog(lang if lang in LANGUAGES else DEFAULT_LANGUAGE).get(key, key)
    return text.format(**values) if values else text


def pick_language(query_value: str | None, browser_locale: str | None) -> str:
    """`?lang=` wins (a shared link), then the browser's locale, then Spanish."""
    if query_value in LANGUAGES:
        return query_value
    prefix = (browser_locale or "").split("-")[0].split("_")[0].lower()
    return prefix if prefix in LANGUAGES else DEFAULT_LANGUAGE
