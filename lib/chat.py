"""A conversation in the chat playground: turns, what each mode sends, metrics, export and import.

Two modes, as in the course: `chat` sends the whole history to /api/chat each turn; `generate`
sends one prompt to /api/generate, optionally with the previous answer's `context` tokens (the
course's conversational memory). Pure logic; pages/chat.py lays it out.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from lib import options as option_reference
from lib.client import Exchange
from lib.formatting import seconds, tokens_per_second
from lib.i18n import Refusal

EXPORT_FORMAT = "ollama-course-companion/chat"
MAX_IMPORT_BYTES = 5_000_000
ROLES = ("system", "user", "assistant", "tool")
# The course's history example (section 6.6): the model continues the pattern for 10 / 2.
COURSE_EXAMPLE = (("user", "2 + 2"), ("assistant", "the answer is 4"), ("user", "3 * 3"),
                  ("assistant", "the answer is 9"), ("user", "10 / 2"))


@dataclass
class Turn:
    role: str
    content: str
    stopped: bool = False  # the student stopped the answer: `content` is what had arrived
    error: str | None = None  # the answer failed: `content` is what had arrived
    metrics: dict | None = None
    context: list[int] | None = None  # generate mode: the tokens to carry to the next prompt
    exchange: Exchange | None = field(default=None, repr=False)  # for "Show the HTTP"


def metrics(final: dict | None, exchange: Exchange | None) -> dict:
    """What is shown under an answer; every value may be None (stopped, failed, old server)."""
    final = final or {}
    return {
        "prompt_tokens": final.get("prompt_eval_count"),
        "output_tokens": final.get("eval_count"),
        "tokens_per_second": tokens_per_second(final.get("eval_count"), final.get("eval_duration")),
        "first_token_s": exchange.first_byte_s if exchange else None,
        "load_s": seconds(final.get("load_duration")),
        "total_s": seconds(final.get("total_duration")),
        "wall_s": exchange.elapsed_s if exchange else None,
        "done_reason": final.get("done_reason"),
    }


def chat_messages(system: str, turns: list[Turn]) -> list[dict]:
    """The whole history as /api/chat wants it (failed answers with no text are left out)."""
    messages = [{"role": "system", "content": system}] if system.strip() else []
    for turn in turns:
        if turn.role == "assistant" and not turn.content:
            continue
        messages.append({"role": turn.role, "content": turn.content})
    return messages


def generate_fields(system: str, turns: list[Turn], carry_context: bool) -> dict:
    """/api/generate fields for the last user turn: prompt, system, and `context` if carried."""
    prompt = next(t.content for t in reversed(turns) if t.role == "user")
    fields = {"prompt": prompt}
    if system.strip():
        fields["system"] = system
    if carry_context:
        previous = next((t.context for t in reversed(turns) if t.role == "assistant" and t.context), None)
        if previous:
            fields["context"] = previous
    return fields


def course_example() -> list[Turn]:
    return [Turn(role, content) for role, content in COURSE_EXAMPLE]


def without_last_answer(turns: list[Turn]) -> list[Turn]:
    """For "regenerate": the history up to and including the last question."""
    last_user = max((i for i, t in enumerate(turns) if t.role == "user"), default=None)
    return [] if last_user is None else turns[: last_user + 1]


# ---------------------------------------------------------------------------- export / import
def export_json(model: str, mode: str, system: str, options: dict, turns: list[Turn]) -> str:
    messages = []
    for turn in turns:
        message = {"role": turn.role, "content": turn.content}
        if turn.stopped:
            message["stopped"] = True
        if turn.error:
            message["error"] = turn.error
        if turn.metrics:
            message["metrics"] = turn.metrics
        messages.append(message)
    return json.dumps({"format": EXPORT_FORMAT, "version": 1, "model": model, "mode": mode,
                       "system": system, "options": options, "messages": messages},
                      ensure_ascii=False, indent=2)


def export_markdown(model: str, mode: str, system: str, options: dict, turns: list[Turn],
                    labels: dict) -> str:
    """A transcript a student can hand in; `labels` are the translated role names and headings."""
    lines = [f"# {labels['title']}", "",
             f"- **{labels['model']}**: `{model}` ({'/api/chat' if mode == 'chat' else '/api/generate'})",
             f"- **{labels['options']}**: `{json.dumps(options, ensure_ascii=False)}`"]
    if system.strip():
        lines.append(f"- **{labels['system']}**: {system}")
    for turn in turns:
        lines += ["", f"## {labels.get(turn.role, turn.role)}", "", turn.content]
        if turn.stopped:
            lines += ["", f"_{labels['stopped']}_"]
        if turn.error:
            lines += ["", f"_{labels['error']}: {turn.error}_"]
    return "\n".join(lines) + "\n"


@dataclass
class Imported:
    model: str | None
    mode: str
    system: str
    options: dict
    turns: list[Turn]


class ImportRefused(Refusal):
    """A file that is not a chat this page can load."""


def import_json(data: bytes) -> Imported:
    """A chat export, or any Ollama /api/chat request body (the course's curl examples)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportRefused("chat.import.too_large", limit=f"{MAX_IMPORT_BYTES // 1_000_000} MB")
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ImportRefused("chat.import.not_json", error=str(error)) from None
    if not isinstance(value, dict) or not isinstance(value.get("messages"), list):
        raise ImportRefused("chat.import.not_chat")
    turns, system = [], str(value.get("system") or "")
    for number, message in enumerate(value["messages"], start=1):
        if not isinstance(message, dict) or message.get("role") not in ROLES \
                or not isinstance(message.get("content"), str):
            raise ImportRefused("chat.import.bad_message", number=number)
        if message["role"] == "system":
            system = message["content"]
            continue
        turns.append(Turn(message["role"], message["content"], stopped=bool(message.get("stopped")),
                          error=message.get("error") if isinstance(message.get("error"), str) else None,
                          metrics=message.get("metrics") if isinstance(message.get("metrics"), dict) else None))
    chosen = value.get("options") or {}
    if not isinstance(chosen, dict) or option_reference.check(chosen):
        raise ImportRefused("chat.import.bad_options")
    mode = value.get("mode") if value.get("mode") in ("chat", "generate") else "chat"
    model = value.get("model") if isinstance(value.get("model"), str) else None
    return Imported(model, mode, system, chosen, turns)
