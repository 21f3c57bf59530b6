"""Spanish and English for every user-visible string.

Catalogs are flat JSON files, key -> text with `{name}` placeholders, one file per part of the
dashboard: `assets/i18n/<lang>/<part>.json` (common, server, models, ...), merged per language.
Both languages must hold the same keys and no key may appear in two files (tests check); a missing
key shows as the key itself rather than crashing a page, so a slip is visible but harmless.
"""
from __future__ import annotations

import functools
import json
import numbers
import pathlib
import string

from lib.formatting import number
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
    """The text of `key` in `lang`, its `{placeholders}` filled; literal braces are doubled: {{ }}.

    Numbers are written the way `lang` writes them (lib.formatting.number): a float, or any number
    under a numeric spec such as `{speed:.1f}` or `{count:,}`, reads '6,5' / '1 234 567' in Spanish.
    Ints without a spec and strings are left as they are, and so is everything inside the
    template's `code spans` (JSON, CLI, versions: wire formats keep their point)."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    text = catalog(lang).get(key)
    return key if text is None else _fill(text, lang, values, str)


def translate_markdown(lang: str, key: str, **values) -> str:
    """`translate` for a Markdown sink, with values shown literally whatever they hold: escaped in
    prose, and inside the template's `code spans` (where escapes would show) only kept from
    closing the span. For values from a server, a model or a student."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    text = catalog(lang).get(key)
    return key if text is None else _fill(text, lang, values, plain, lambda value: value.replace("`", "'"))


_FORMATTER = string.Formatter()


@functools.cache
def _parts(text: str) -> tuple[tuple[str, str | None, str, str | None, bool], ...]:
    """The template parsed once: (literal, name, spec, conversion, inside a code span)."""
    parts, in_code = [], False
    for literal, name, spec, conversion in _FORMATTER.parse(text):
        in_code ^= literal.count("`") % 2 == 1
        parts.append((literal, name, spec, conversion, in_code))
    return tuple(parts)


def _fill(text: str, lang: str, values: dict, prose, code=str) -> str:
    """`text.format(**values)`, numbers in prose localized, each value then passed to `prose` or,
    inside a code span, to `code`."""
    out = []
    for literal, name, spec, conversion, in_code in _parts(text):
        out.append(literal)
        if name is None:
            continue
        value = values[name] if name in values else _FORMATTER.get_field(name, (), values)[0]
        if conversion is not None:
            value = _FORMATTER.convert_field(value, conversion)
        if "{" in spec:  # a nested field: {value:.{digits}f}
            spec = _FORMATTER.vformat(spec, (), values)
        if in_code:
            out.append(code(format(value, spec)))
        else:
            out.append(prose(number(value, spec, lang) if _is_number(value) else format(value, spec)))
    return "".join(out)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


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
