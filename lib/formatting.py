"""Numbers as people read them: sizes like `ollama list`, durations, "41 seconds ago", each
written the way the page's language writes numbers.

English: 6.5 and 1,234,567. Spanish (the course is Latin American): decimal comma, 6,5, as the
course's own prose writes "4,7 GB"; thousands grouped with a narrow no-break space from five
digits on, 12 345 but 2048, as the Ortografía de la lengua española (RAE 2010, pp. 663-665)
prescribes: never a point or a comma, which readers from Mexico and from Argentina would read as
opposite things. Code and wire formats (JSON, curl, Python, CLI output, versions, model tags) keep
their own points: format them with plain `format`, not with these.
"""
from __future__ import annotations

import math
import numbers
import re
from datetime import datetime, timezone

import pandas

NS_PER_S = 1_000_000_000
UNKNOWN = "—"
DECIMAL_MARK = {"en": ".", "es": ","}
THOUSANDS = {"en": ",", "es": "\u202f"}  # U+202F NARROW NO-BREAK SPACE: a group never wraps apart
_SPANISH = str.maketrans({".": DECIMAL_MARK["es"], ",": THOUSANDS["es"]})
_FOUR_DIGITS = re.compile(r"(?<![\d,])(\d),(\d{3})(?![\d,])")  # "2,048" but not "12,345" or "1,234,567"


def number(value: int | float | None, spec: str = "", lang: str = "en") -> str:
    """`format(value, spec)` written the way `lang` writes numbers; '—' when unknown.

    number(6.5, ".1f", "es") -> '6,5'; number(1234567, ",", "es") -> '1 234 567' (narrow spaces);
    number(0.25, ".0%", "es") -> '25%'. Ints without a grouping spec read the same in every language.
    """
    if value is None:
        return UNKNOWN
    text = format(value, spec)
    if text.startswith("-") and "0" in text and not any(digit in text for digit in "123456789"):
        text = text[1:]  # -0.04 rounded to '-0.0' reads as a negative amount: '0.0'
    if lang != "es" or not isinstance(value, numbers.Real) or isinstance(value, bool):
        return text
    if "," in text:
        text = _FOUR_DIGITS.sub(r"\1\2", text)
    return text.translate(_SPANISH) if "." in text or "," in text else text


def human_bytes(size: int | float | None, lang: str = "en") -> str:
    """Decimal units, as the Ollama CLI prints them (1.7 GB, 8.4 KB, 136 B); '1,7 GB' in Spanish."""
    if size is None or (isinstance(size, float) and math.isnan(size)):
        return UNKNOWN
    size = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            break
        size /= 1000
    return f"{number(size, '.0f', lang)} B" if unit == "B" else f"{number(size, '.1f', lang)} {unit}"


def human_seconds(value: float | None, lang: str = "en") -> str:
    """Seconds as people read them: '6.58 s', '269.6 ms', '1.3 ms' ('6,58 s' in Spanish); '—' when
    unknown."""
    if value is None or math.isnan(value):
        return UNKNOWN
    if value >= 1:
        return f"{number(value, '.2f', lang)} s"
    return f"{number(value * 1000, '.1f', lang)} ms"


def chart_separators(lang: str) -> str:
    """Plotly's layout `separators` (decimal mark, then thousands) for `lang`, used by its axes,
    hover labels and `texttemplate`s: `figure.update_layout(separators=chart_separators(lang))`."""
    return DECIMAL_MARK.get(lang, ".") + THOUSANDS.get(lang, ",")


def table(data, lang: str, formats: dict[str, str]):
    """`data` (a DataFrame or what builds one: a list of row dicts, a dict of columns) as a pandas
    Styler for st.dataframe whose number columns read in `lang`; the cells keep their numbers (the
    table still sorts by value). `formats` maps a column to a format with one field, e.g.
    {size: "{:.1f} GB", share: "{:.0%}"}; None and NaN show as '—'. Give those columns no `format`
    in column_config: Streamlit lets that win over the Styler's text."""
    def formatter(template: str):
        return lambda value: UNKNOWN if _missing(value) else template.format(_Localized(value, lang))

    frame = data if isinstance(data, pandas.DataFrame) else pandas.DataFrame(data)
    return frame.style.format({column: formatter(template) for column, template in formats.items()})


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class _Localized:
    """A number that formats itself with `number`: "{:.1f} GB".format(_Localized(1.7, "es"))."""

    def __init__(self, value, lang: str):
        self.value, self.lang = value, lang

    def __format__(self, spec: str) -> str:
        return number(self.value, spec, self.lang)


def parse_timestamp(text: str | None) -> datetime | None:
    """RFC3339 with up to nanoseconds (Go's format); Python keeps microseconds."""
    if not text:
        return None
    try:
        head, _, rest = text.replace("Z", "+00:00").partition(".")
        if rest:
            digits = "".join(ch for ch in rest if ch.isdigit())
            zone = rest[len(digits):]
            text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
        else:
            text = head
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def age_parts(then: datetime | None, now: datetime | None = None) -> tuple[int, str] | None:
    """(amount, unit) for "41 seconds ago"; units: seconds, minutes, hours, days, weeks, months, years.

    Negative ages (a time in the future, e.g. `expires_at`) return the distance with the same units.
    """
    if then is None:
        return None
    delta = abs(((now or datetime.now(timezone.utc)) - then).total_seconds())
    for unit, size, limit in (("seconds", 1, 60), ("minutes", 60, 3600), ("hours", 3600, 86400),
                              ("days", 86400, 7 * 86400), ("weeks", 7 * 86400, 30 * 86400),
                              ("months", 30 * 86400, 365 * 86400)):
        if delta < limit:
            return int(delta // size), unit
    return int(delta // (365 * 86400)), "years"
