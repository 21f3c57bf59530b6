"""Numbers as people read them: sizes like `ollama list`, durations, "41 seconds ago"."""
from __future__ import annotations

from datetime import datetime, timezone

NS_PER_S = 1_000_000_000


def human_bytes(size: int | float | None) -> str:
    """Decimal units, as the Ollama CLI prints them (1.7 GB, 8.4 KB, 136 B)."""
    if size is None:
        return "—"
    size = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            break
        size /= 1000
    return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"


def human_seconds(value: float | None) -> str:
    """Seconds as people read them: '6.58 s', '269.6 ms', '1.3 ms'; '—' when unknown."""
    if value is None:
        return "—"
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.1f} ms"


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
