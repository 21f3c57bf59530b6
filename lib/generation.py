"""A finished generation, read once from its final chunk: the one place durations are converted.

Ollama's final chunk (generate, chat, embed) carries integer nanoseconds and token counts; chat,
vision, the lab and "Show the HTTP" all read them through `Generation`, so a zero duration, a
missing field or a value of the wrong type (an old server, an imported file) is handled once.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from lib.formatting import NS_PER_S


def _number(value) -> float | None:
    """A JSON number, or None for anything else (bools, strings, objects, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return value


def _count(value) -> int | None:
    number = _number(value)
    return None if number is None or number < 0 else int(number)


def _seconds(value) -> float | None:
    number = _number(value)
    return None if number is None or number < 0 else number / NS_PER_S


def _speed(count: int | None, duration_s: float | None) -> float | None:
    """Tokens per second; None when either is missing or the duration is zero (a cached prompt)."""
    if not count or not duration_s or duration_s <= 0:
        return None
    return count / duration_s


@dataclass(frozen=True)
class Generation:
    prompt_tokens: int | None = None  # prompt_eval_count: includes tokens reused from the cache
    output_tokens: int | None = None  # eval_count
    load_s: float | None = None
    prompt_eval_s: float | None = None
    eval_s: float | None = None
    total_s: float | None = None
    done_reason: str | None = None
    first_token_s: float | None = None  # measured by the dashboard: request sent -> the answer's first
    # text (the chat; pages that do not split reasoning from answer measure the first line)
    wall_s: float | None = None  # measured by the dashboard: total plus HTTP and queueing
    # A thinking model's reasoning, measured by the dashboard: Ollama's eval_count counts reasoning
    # and answer tokens together, and its durations do not split them.
    first_thinking_s: float | None = None  # request sent -> first reasoning piece
    thinking_s: float | None = None  # first reasoning piece -> first answer piece (or the end)
    thinking_tokens: int | None = None  # chunks that carried reasoning: about one token each

    @classmethod
    def from_final(cls, final: dict | None, first_token_s: float | None = None,
                   wall_s: float | None = None, first_thinking_s: float | None = None,
                   thinking_s: float | None = None, thinking_tokens: int | None = None) -> "Generation":
        """`first_token_s` and `wall_s` (and the reasoning's figures) are the dashboard's own
        measures; everything else is read from the final chunk."""
        final = final if isinstance(final, dict) else {}
        reason = final.get("done_reason")
        return cls(prompt_tokens=_count(final.get("prompt_eval_count")),
                   output_tokens=_count(final.get("eval_count")),
                   load_s=_seconds(final.get("load_duration")),
                   prompt_eval_s=_seconds(final.get("prompt_eval_duration")),
                   eval_s=_seconds(final.get("eval_duration")),
                   total_s=_seconds(final.get("total_duration")),
                   done_reason=reason if isinstance(reason, str) else None,
                   first_token_s=first_token_s, wall_s=wall_s, first_thinking_s=first_thinking_s,
                   thinking_s=thinking_s, thinking_tokens=thinking_tokens)

    @classmethod
    def from_dict(cls, value) -> "Generation":
        """From `as_dict()` output (an export), keeping only numbers where numbers belong."""
        value = value if isinstance(value, dict) else {}
        numbers = {f.name: _number(value.get(f.name)) for f in fields(cls) if f.name != "done_reason"}
        for name in ("prompt_tokens", "output_tokens", "thinking_tokens"):
            numbers[name] = _count(numbers[name])
        reason = value.get("done_reason")
        return cls(**numbers, done_reason=reason if isinstance(reason, str) else None)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def tokens_per_second(self) -> float | None:
        return _speed(self.output_tokens, self.eval_s)

    @property
    def prompt_tokens_per_second(self) -> float | None:
        return _speed(self.prompt_tokens, self.prompt_eval_s)

    @property
    def answer_tokens(self) -> int | None:
        """eval_count less the reasoning chunks counted: the answer's share, approximately."""
        if self.output_tokens is None or self.thinking_tokens is None:
            return None
        return max(0, self.output_tokens - self.thinking_tokens)

    @property
    def other_s(self) -> float | None:
        """Wall time the server's own durations do not explain (HTTP, JSON, queueing)."""
        if self.wall_s is None or self.total_s is None:
            return None
        return max(0.0, self.wall_s - self.total_s)
