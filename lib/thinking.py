"""Thinking models (qwen3, deepseek-r1, gpt-oss...): which `think` values a model takes and what
each sends. Pure logic; lib/ui_chat.py draws the control.

Ollama's rules (OLLAMA_API.md, "Today's API"): `think` is `true`/`false` or a level; a model whose
/api/show `capabilities` include `thinking` thinks when `think` is absent; a model without that
capability refuses `think: true` with a 400, so the dashboard never sends `think` to it. gpt-oss
takes only the levels `low`/`medium`/`high` and cannot turn thinking off.
"""
from __future__ import annotations

import json

# The control's choices and what each sends (None: the field is left out of the request).
SENT = {"default": None, "off": False, "on": True, "low": "low", "medium": "medium", "high": "high"}
ON_OFF = ("default", "off", "on")
LEVELS = ("default", "low", "medium", "high")
LEVEL_VALUES = ("low", "medium", "high", "max")  # what Ollama accepts as a level
# gpt-oss, recognised by its name (gpt-oss:20b, or a copy named after it) or by the family
# /api/show reports for it (`gptoss`): no other model family only takes levels today.
LEVELS_ONLY_NAMES = ("gpt-oss",)
LEVELS_ONLY_FAMILIES = ("gptoss", "gpt-oss")


def can_think(capabilities) -> bool:
    return isinstance(capabilities, list) and "thinking" in capabilities


def levels_only(model: str | None, family: str | None) -> bool:
    base = (model or "").split("/")[-1].lower()
    return base.startswith(LEVELS_ONLY_NAMES) or (family or "").lower() in LEVELS_ONLY_FAMILIES


def choices(capabilities, model: str | None, family: str | None) -> tuple[str, ...] | None:
    """The control's choices for this model; None for a model that does not think (no control)."""
    if not can_think(capabilities):
        return None
    return LEVELS if levels_only(model, family) else ON_OFF


def valid(value) -> bool:
    """A `think` value Ollama takes (None: not sent)."""
    return value is None or isinstance(value, bool) or value in LEVEL_VALUES


def thinks(think) -> bool:
    """Whether a thinking model thinks with this `think` (absent means it does)."""
    return think is not False


def opposite(think, levels: bool) -> bool | str:
    """What to compare an answer with: thinking off if it thought, on if it did not; a model that
    takes only levels compares the lowest with the highest."""
    if levels:
        return "high" if think == "low" else "low"
    return not thinks(think)


def shown(think) -> str:
    """The value as the request's JSON writes it: `false`, `true`, `"low"`; `None` as nothing."""
    return "" if think is None else json.dumps(think)
