"""Spanish and English for every user-visible string.

Catalogs are flat JSON files, key -> text with `{name}` placeholders, one file per part of the
dashboard: `assets/i18n/<lang>/<part>.json` (common, server, models, ...), merged per language.
Both languages must hold the same keys and no key may appear in two files (tests check); a missing
key shows as the key itself rather than crashing a page, so a slip is visible but harmless.
"""
from __future__ import annotations

import functools
import json
import pathlib
import string

from lib.safe_text import plain

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"  # the course is in Spanish
CATALOG_DIR = pathlib.Path(__file__).resolve().parent.parent / "assets" / "i18n"


def catalog_files(lang: str) -> list[pathlib.Path]:
    return sorted((CATALOG_DIR / lang).glob("*.json"))


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in catalog_files(lang):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def translate(lang: str, key: str, **values) -> str:
    text = catalog(lang if lang in LANGUAGES else DEFAULT_LANGUAGE).get(key)
    return key if text is None else text.format(**values)  # literal braces are doubled: {{ }}


def translate_markdown(lang: str, key: str, **values) -> str:
    """`translate` for a Markdown sink, with values shown literally whatever they hold: escaped in
    prose, and inside the template's `code spans` (where escapes would show) only kept from
    closing the span. For values from a server, a model or a student."""
    text = catalog(lang if lang in LANGUAGES else DEFAULT_LANGUAGE).get(key)
    if text is None:
        return key
    out, in_code = [], False
    for literal, name, spec, conversion in string.Formatter().parse(text):
        out.append(literal)
        in_code ^= literal.count("`") % 2 == 1
        if name is None:
            continue
        value = format(values[name] if conversion is None else repr(values[name]), spec)
        out.append(value.replace("`", "'") if in_code else plain(value))
    return "".join(out)


class Refusal(ValueError):
    """Input refused with a message to translate: `key` names it, `values` fill its placeholders."""

    def __init__(self, key: str, **values):
        super().__init__(f"{key} {values}" if values else key)
        self.key = key
        self.values = values


def pick_language(query_value: str | None, browser_locale: str | None) -> str:
    """`?lang=` wins (a shared link), then the browser's locale, then Spanish."""
    if query_value in LANGUAGES:
        return query_value
    prefix = (browser_locale or "").split("-")[0].split("_")[0].lower()
    return prefix if prefix in LANGUAGES else DEFAULT_LANGUAGE
