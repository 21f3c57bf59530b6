"""A conversation in the chat playground: turns, what each mode sends, the answer being received,
the window of turns on screen, export and import.

Two modes, as in the course: `chat` sends the whole history to /api/chat each turn; `generate`
sends one prompt to /api/generate, optionally with the previous answer's `context` tokens (the
course's conversational memory). Today's API adds, in both modes: a thinking model's reasoning,
kept apart from the answer (lib/thinking.py), and structured outputs (lib/structured.py). Pure
logic; pages/chat.py lays it out.
"""
from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from typing import Iterator

from lib import options as option_reference, structured, thinking
from lib.client import Exchange, OllamaClient, OllamaError, Stream
from lib.generation import Generation
from lib.i18n import Refusal
from lib.ollama_facts import ROLES
from lib.persistence import new_id

EXPORT_FORMAT = "ollama-course-companion/chat"
MAX_IMPORT_BYTES = 5_000_000
MAX_IMPORT_MESSAGES = 2_000  # more would make every rerun of the page slow
WINDOW = 20  # turns drawn at first; each "show earlier" adds as many again
# The course's history example (section 6.6): the model continues the pattern for 10 / 2.
COURSE_EXAMPLE = (("user", "2 + 2"), ("assistant", "the answer is 4"), ("user", "3 * 3"),
                  ("assistant", "the answer is 9"), ("user", "10 / 2"))
# Share of num_ctx past which the page warns: past num_ctx, Ollama leaves the oldest messages out
# without a word, keeping the system messages and the last one (server/prompt.go chatPrompt).
CONTEXT_WARNING = 0.8
PIECES_SHOWN = 200  # streamed pieces shown of an answer (the recorded lines hold about 300)
NOT_INSTALLED = "no-instalado:latest"  # the model asked for on purpose to get Ollama's 404


@dataclass
class Turn:
    role: str
    content: str
    stopped: bool = False  # the student stopped the answer: `content` is what had arrived
    error: str | None = None  # the answer failed: `content` is what had arrived
    metrics: Generation | None = None
    context: list[int] | None = None  # generate mode: the tokens to carry to the next prompt
    exchange: Exchange | None = field(default=None, repr=False)  # for "Show the HTTP"
    thinking: str = ""  # a thinking model's reasoning, kept apart from the answer (`content`)
    think: bool | str | None = None  # the `think` the answer was asked with (None: not sent)
    format: str | dict | None = None  # the `format` it was asked with: "json" or a JSON Schema
    compares: bool = False  # the question before it asked again with another `think`, to compare
    images: list[str] = field(default_factory=list)  # a question's images, base64 (for a vision model)


@dataclass(frozen=True)
class Settings:
    """What the page's controls say to send with every question."""

    model: str | None
    mode: str = "chat"  # "chat" (/api/chat) or "generate" (/api/generate)
    system: str = ""
    options: dict = field(default_factory=dict)
    format: str | dict | None = None  # "json" or a JSON Schema (lib/structured.py)
    keep_alive: int | str | None = None
    carry_context: bool = True  # generate mode: send the previous answer's `context`
    think: bool | str | None = None  # None: not sent (only thinking models get it: lib/thinking.py)

    def send(self, client: OllamaClient, turns: list[Turn], stream: bool) -> Stream | dict:
        common = {"options": self.options or None, "format": self.format, "keep_alive": self.keep_alive,
                  "think": self.think}
        if self.mode == "chat":
            return client.chat(self.model, chat_messages(self.system, turns), stream=stream, **common)
        return client.generate(self.model, stream=stream,
                               **generate_fields(self.system, turns, self.carry_context), **common)


def chat_messages(system: str, turns: list[Turn]) -> list[dict]:
    """The whole history as /api/chat wants it. Left out: failed answers with no text, answers
    asked again only to compare, and earlier reasoning (today's thinking templates drop it)."""
    messages = [{"role": "system", "content": system}] if system.strip() else []
    for turn in turns:
        if turn.role == "assistant" and (not turn.content or turn.compares):
            continue
        messages.append({"role": turn.role, "content": turn.content})
        if turn.images:  # api/types.go Message.Images: base64 in the message that shows them
            messages[-1]["images"] = turn.images
    return messages


def generate_fields(system: str, turns: list[Turn], carry_context: bool) -> dict:
    """/api/generate fields for the last user turn: prompt, system, and `context` if carried."""
    question = next(t for t in reversed(turns) if t.role == "user")
    fields = {"prompt": question.content}
    if question.images:
        fields["images"] = question.images
    if system.strip():
        fields["system"] = system
    if carry_context:
        previous = next((t.context for t in reversed(turns)
                         if t.role == "assistant" and t.context and not t.compares), None)
        if previous:
            fields["context"] = previous
    return fields


def course_example() -> list[Turn]:
    return [Turn(role, content) for role, content in COURSE_EXAMPLE]


def without_last_answer(turns: list[Turn]) -> list[Turn]:
    """For "regenerate": the history up to and including the last question."""
    last_user = max((i for i, t in enumerate(turns) if t.role == "user"), default=None)
    return [] if last_user is None else turns[: last_user + 1]


def same_question(turns: list[Turn], index: int) -> list[Turn]:
    """The answers to the question `turns[index]` answers: the first and those asked to compare."""
    start = index
    while turns[start].compares and start > 0 and turns[start - 1].role == "assistant":
        start -= 1
    end = index
    while end + 1 < len(turns) and turns[end + 1].role == "assistant" and turns[end + 1].compares:
        end += 1
    return turns[start:end + 1]


def _text(value) -> str:
    """A text field of a server's answer ("" for anything that is not a string)."""
    return value if isinstance(value, str) else ""


# ------------------------------------------------------------------------- what the page teaches
def context_in_use(metrics: Generation | None, num_ctx: int | None) -> int | None:
    """Tokens the context holds after an answer (its prompt_eval_count, which since v0.33 includes
    the tokens reused from the cache, plus the answer's eval_count) once that reaches
    CONTEXT_WARNING of num_ctx; None below it, or when either number is unknown."""
    if metrics is None or metrics.prompt_tokens is None or not num_ctx:
        return None
    used = metrics.prompt_tokens + (metrics.output_tokens or 0)
    return used if used >= CONTEXT_WARNING * num_ctx else None


def loaded_context(ps: dict, model: str) -> int | None:
    """The num_ctx the server loaded `model` with: /api/ps `context_length` (api/types.go
    ProcessModelResponse), None when the model is not loaded."""
    for entry in ps.get("models") or []:
        if isinstance(entry, dict) and model in (entry.get("name"), entry.get("model")):
            value = entry.get("context_length")
            return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
    return None


def streamed_pieces(exchange: Exchange | None, limit: int = PIECES_SHOWN) -> list[str]:
    """The answer's text, piece by piece as the stream brought it (one piece per NDJSON line,
    about one token each), read from the first lines "Show the HTTP" keeps."""
    if exchange is None or not exchange.streamed:
        return []
    pieces = []
    for line in exchange.lines:
        try:
            chunk = json.loads(line)
        except ValueError:
            continue
        if not isinstance(chunk, dict):
            continue
        message = chunk.get("message") if isinstance(chunk.get("message"), dict) else {}
        if text := _text(chunk.get("response")) or _text(message.get("content")):
            pieces.append(text)
            if len(pieces) == limit:
                break
    return pieces


def provoke_not_found(client: OllamaClient, system: str, turns: list[Turn]) -> OllamaError | None:
    """This chat sent on purpose to a model that is not installed, to show Ollama's real answer:
    404 `{"error":"model '...' not found"}` (server/routes.go ChatHandler). None if it answered."""
    messages = chat_messages(system, turns) or [{"role": "user", "content": "?"}]
    try:
        client.chat(NOT_INSTALLED, messages, stream=False)
    except OllamaError as error:
        return error
    return None


def pieces_line(pieces: list[str]) -> str:
    """The pieces with their boundaries and whitespace visible: ` az` + `úl` -> `␣az|úl`."""
    return "|".join(piece.replace(" ", "␣").replace("\n", "↵") for piece in pieces)


# ------------------------------------------------------------------------- the live answer
class Answer:
    """One answer, from the request to its final state in `turn` (done, failed or stopped).

    The run that sent it shows `pieces()` (reasoning and answer) and calls `Conversation.finish`
    however that run ends. Streamlit 1.67 starts the next script run before the old one has
    stopped, so the old run cannot be the one that records an answer cut short by Stop (or any
    click): the next run settles it (`Conversation.settle`), closing the stream and keeping what
    had arrived, reasoning and answer. Whichever of the runs ends the answer first writes its
    outcome; the other leaves it alone.
    """

    def __init__(self, conversation: Conversation, turn: Turn, stream: Stream | None = None):
        self.conversation = conversation
        self.turn = turn
        self.stream = stream
        self._ended = False
        self._lock = threading.Lock()

    def _end(self) -> bool:
        """True for the one caller that gets to write the outcome."""
        with self._lock:
            first, self._ended = not self._ended, True
        return first

    def pieces(self) -> Iterator[tuple[str, str]]:
        """("thinking", text) and ("content", text) as they arrive, for the page to draw; not
        streamed, the whole reasoning and answer at once."""
        if self.stream is None:
            for kind, text in (("thinking", self.turn.thinking), ("content", self.turn.content)):
                if text:
                    yield kind, text
            return
        try:
            yield from self.stream.pieces()
        except OllamaError as error:
            self.fail(error)
            return
        if self._end():  # not when Stop settled it meanwhile: the stream ended because it was closed
            self._keep_arrived()
            self._record(self.stream.final, self.stream.exchange)

    def texts(self) -> Iterator[str]:
        """Only the answer's text as it arrives."""
        return (text for kind, text in self.pieces() if kind == "content")

    def complete(self, final: dict, exchange: Exchange | None) -> None:
        """A whole (not streamed) answer."""
        if self._end():
            message = final.get("message")
            message = message if isinstance(message, dict) else {}
            self.turn.content = _text(final.get("response")) or _text(message.get("content"))
            self.turn.thinking = _text(final.get("thinking")) or _text(message.get("thinking"))
            self._record(final, exchange)

    def _keep_arrived(self) -> None:
        self.turn.content, self.turn.thinking = self.stream.text, self.stream.thinking

    def _record(self, final: dict | None, exchange: Exchange | None) -> None:
        context = (final or {}).get("context")
        self.turn.metrics = Generation.from_final(final, wall_s=exchange.elapsed_s if exchange else None,
                                                  **self._measured(exchange))
        self.turn.context = context if isinstance(context, list) else None
        self.turn.exchange = exchange
        self.conversation.changed()

    def _measured(self, exchange: Exchange | None) -> dict:
        """The dashboard's own timings. Streamed: when the reasoning and the answer began, and the
        reasoning's span (its first piece to the answer's first, or to the end) and chunk count.
        Not streamed, everything arrives at once: there is no first token to time."""
        if self.stream is None:
            return {}
        stream = self.stream
        reasoning_s = None
        if stream.first_thinking_s is not None:
            until = stream.first_text_s if stream.first_text_s is not None else stream.exchange.elapsed_s
            reasoning_s = max(0.0, (until or 0.0) - stream.first_thinking_s)
        return {"first_token_s": stream.first_text_s, "first_thinking_s": stream.first_thinking_s,
                "thinking_s": reasoning_s, "thinking_tokens": len(stream.thinking_parts)}

    def fail(self, error: OllamaError) -> None:
        """What had arrived is kept with the error; the page explains the error once."""
        if self._end():
            if self.stream is not None:
                self._keep_arrived()
            self.turn.error, self.turn.exchange = error.message, error.exchange
            self.conversation.error = error
            self.conversation.changed()

    def settle(self) -> None:
        """End an answer its run could not finish: close the stream, keep what arrived (reasoning
        and answer) as stopped."""
        if self.stream is None:
            return
        # Claimed before closing: closing ends the reading run's loop, which would claim it as done.
        settling = self._end()
        if settling:
            self.turn.stopped = True
        self.stream.close()  # the server sees the connection close and stops generating
        if settling:
            self._keep_arrived()
            self.turn.exchange = self.stream.exchange
            self.conversation.changed()

    @property
    def stopped(self) -> bool:
        return self.turn.stopped


@dataclass
class Conversation:
    """One browser session's conversation, the answer being received, and the turns on screen."""

    turns: list[Turn] = field(default_factory=list)
    pending: bool = False  # the last question waits for its answer
    live: Answer | None = None  # the answer being streamed, until its run or the next one ends it
    error: OllamaError | None = None  # the last answer's failure, to explain once (`take_error`)
    shown: int | None = WINDOW  # how many of the latest turns are drawn; None: all of them
    id: str = field(default_factory=new_id)  # what it is saved under (lib/persistence.py)
    revision: int = 0  # counts the changes of its turns: the page saves it when this moves
    again_with: dict | None = None  # "compare": the last question asked again with these settings

    # -- what the student does
    def ask(self, question: str, images: list[str] | None = None) -> None:
        self.turns.append(Turn("user", question, images=list(images or [])))
        self.pending, self.again_with = True, None
        self.changed()

    def compare(self, think: bool | str) -> None:
        """The last question asked again with another `think`, from the same history, its answer
        drawn after the first with both answers' numbers side by side: what thinking costs."""
        if self.turns and self.turns[-1].role == "assistant":
            self.pending, self.again_with = True, {"think": think}

    def load_example(self) -> None:
        self.replace(course_example())
        self.pending = True

    def regenerate(self) -> None:
        self.turns = without_last_answer(self.turns)
        self.pending, self.again_with = bool(self.turns), None
        self.changed()

    def replace(self, turns: list[Turn], conversation_id: str | None = None) -> None:
        """Another conversation (a new one, imported, the course example, reopened from the list),
        drawn from its end. The one it replaces keeps its own id, hence its place in the list."""
        self.turns, self.pending, self.shown, self.again_with = list(turns), False, WINDOW, None
        self.id = conversation_id or new_id()
        self.changed()

    def changed(self) -> None:
        self.revision += 1

    def waiting_question(self) -> bool:
        return self.pending and bool(self.turns) and (self.turns[-1].role == "user" or self.again_with is not None)

    # -- the answer
    def answer(self, client: OllamaClient, settings: Settings, stream: bool) -> Answer:
        """Send the history for the last question (for a compare, the same history again with its
        settings). Streamed, the reasoning and the text arrive through the answer's `pieces()`; not
        streamed, they have arrived when this returns. A failure ends up on the turn."""
        self.pending, again, self.again_with = False, self.again_with, None
        history = without_last_answer(self.turns) if again else self.turns
        settings = dataclasses.replace(settings, **again) if again else settings
        answer = Answer(self, Turn("assistant", "", think=settings.think, format=settings.format,
                                   compares=again is not None))
        try:
            sent = settings.send(client, history, stream)
        except OllamaError as error:
            self.turns.append(answer.turn)
            answer.fail(error)
            return answer
        if stream:  # live before it is in the turns: a save made meanwhile skips a live answer
            answer.stream, self.live = sent, answer
        self.turns.append(answer.turn)
        if not stream:
            answer.complete(sent, client.last)
        return answer

    def settle(self) -> None:
        """Called first by every run of the page: an answer still live belongs to a run this one
        interrupted (Stop, or any other click), so it ends here, keeping what had arrived."""
        live, self.live = self.live, None
        if live is not None:
            live.settle()

    def finish(self, answer: Answer) -> None:
        """The sending run's last step, however it ends: an answer it did not complete (another
        page was opened mid-stream) keeps what had arrived."""
        answer.settle()
        if self.live is answer:
            self.live = None

    def take_error(self) -> OllamaError | None:
        error, self.error = self.error, None
        return error

    # -- the window of turns on screen
    @property
    def first_shown(self) -> int:
        """Index of the first turn drawn: only the latest turns are, older ones on request."""
        return 0 if self.shown is None else max(0, len(self.turns) - self.shown)

    def show_earlier(self) -> None:
        self.shown = None if self.shown is None else self.shown + WINDOW

    def show_all(self) -> None:
        self.shown = None


# ---------------------------------------------------------------------------- export / import
def as_message(turn: Turn, context: bool = False) -> dict:
    """A turn as a file holds it (an export; with `context`, what lib/persistence.py keeps)."""
    message = {"role": turn.role, "content": turn.content}
    if turn.thinking:  # Ollama's own field for an assistant message's reasoning
        message["thinking"] = turn.thinking
    if turn.think is not None:
        message["think"] = turn.think
    if turn.format is not None:
        message["format"] = turn.format
    if turn.compares:
        message["compares"] = True
    if turn.images:
        message["images"] = turn.images
    if turn.stopped:
        message["stopped"] = True
    if turn.error:
        message["error"] = turn.error
    if turn.metrics:
        message["metrics"] = turn.metrics.as_dict()
    if context and turn.context:
        message["context"] = turn.context
    return message


def export_json(settings: Settings, turns: list[Turn]) -> str:
    return json.dumps({"format": EXPORT_FORMAT, "version": 1, "model": settings.model or "",
                       "mode": settings.mode, "system": settings.system, "options": settings.options,
                       "messages": [as_message(turn) for turn in turns]}, ensure_ascii=False, indent=2)


def export_markdown(settings: Settings, turns: list[Turn], labels: dict) -> str:
    """A transcript a student can hand in; `labels` are the translated role names and headings."""
    path = "/api/chat" if settings.mode == "chat" else "/api/generate"
    lines = [f"# {labels['title']}", "",
             f"- **{labels['model']}**: `{settings.model or ''}` ({path})",
             f"- **{labels['options']}**: `{json.dumps(settings.options, ensure_ascii=False)}`"]
    if settings.system.strip():
        lines.append(f"- **{labels['system']}**: {settings.system}")
    for turn in turns:
        lines += ["", f"## {labels.get(turn.role, turn.role)}", ""]
        if turn.compares:
            lines += [f"_{labels['compares']}_", ""]
        if turn.think is not None:
            lines += [f"`think`: `{thinking.shown(turn.think)}`", ""]
        if turn.thinking:  # quoted, above the answer, as the page shows it
            lines += [f"**{labels['reasoning']}**", "", *(f"> {line}" for line in turn.thinking.splitlines()), ""]
        lines.append(turn.content)
        if turn.images:
            lines += ["", f"_{labels['images']}: {len(turn.images)}_"]
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


# Types as JSON names them, shown in the refusal: the course teaches JSON.
_STRING, _BOOLEAN, _TOKENS = "`string`", "`true` / `false`", "`array` of integers"
_THINK = '`true` / `false` / `"low"` / `"medium"` / `"high"`'
_FORMAT = '`"json"` or a valid JSON Schema object'
_IMAGES = "`array` of base64 strings"


def _is_tokens(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def as_turn(message, number: int, context: bool = False) -> Turn:
    """A file's message, checked field by field; `metrics` are read, never trusted (anything not a
    number where a number belongs is unknown). With `context`, the tokens kept by persistence."""
    if not isinstance(message, dict) or message.get("role") not in ROLES \
            or not isinstance(message.get("content"), str):
        raise ImportRefused("chat.import.bad_message", number=number)
    for name, kind, expected in (("stopped", bool, _BOOLEAN), ("error", str, _STRING),
                                 ("thinking", str, _STRING), ("compares", bool, _BOOLEAN)):
        if message.get(name) is not None and not isinstance(message[name], kind):
            raise ImportRefused("chat.import.bad_message_field", number=number, field=name, expected=expected)
    if not thinking.valid(message.get("think")):
        raise ImportRefused("chat.import.bad_message_field", number=number, field="think", expected=_THINK)
    if message.get("format") is not None and not structured.valid_format(message["format"]):
        raise ImportRefused("chat.import.bad_message_field", number=number, field="format", expected=_FORMAT)
    if message.get("images") is not None and not (isinstance(message["images"], list)
                                                  and all(isinstance(i, str) for i in message["images"])):
        raise ImportRefused("chat.import.bad_message_field", number=number, field="images", expected=_IMAGES)
    tokens = message.get("context") if context else None
    if tokens is not None and not _is_tokens(tokens):
        raise ImportRefused("chat.import.bad_message_field", number=number, field="context", expected=_TOKENS)
    metrics = message.get("metrics")
    return Turn(message["role"], message["content"], stopped=bool(message.get("stopped")),
                error=message.get("error") or None, context=tokens or None,
                metrics=Generation.from_dict(metrics) if isinstance(metrics, dict) else None,
                thinking=message.get("thinking") or "", think=message.get("think"),
                format=message.get("format"), compares=bool(message.get("compares")),
                images=list(message.get("images") or []))


def import_json(data: bytes) -> Imported:
    """A chat export, or any Ollama /api/chat request body (the course's curl examples). Every field
    it uses is checked (fields it does not use are left alone), and at most MAX_IMPORT_MESSAGES
    messages are taken: a refusal says what is wrong, and nothing is half-loaded."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportRefused("chat.import.too_large", limit=f"{MAX_IMPORT_BYTES // 1_000_000} MB")
    try:
        value = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ImportRefused("chat.import.too_deep") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise ImportRefused("chat.import.not_json", error=str(error)) from None
    if not isinstance(value, dict) or not isinstance(value.get("messages"), list):
        raise ImportRefused("chat.import.not_chat")
    if len(value["messages"]) > MAX_IMPORT_MESSAGES:
        raise ImportRefused("chat.import.too_many", count=len(value["messages"]), limit=MAX_IMPORT_MESSAGES)
    for name in ("model", "system"):
        if value.get(name) is not None and not isinstance(value[name], str):
            raise ImportRefused("chat.import.bad_field", field=name, expected=_STRING)
    if value.get("mode") not in (None, "chat", "generate"):
        raise ImportRefused("chat.import.bad_field", field="mode", expected='`"chat"` / `"generate"`')
    chosen = value.get("options") or {}
    if not isinstance(chosen, dict) or option_reference.check(chosen):
        raise ImportRefused("chat.import.bad_options")
    turns, system = [], value.get("system") or ""
    for number, message in enumerate(value["messages"], start=1):
        turn = as_turn(message, number)
        if turn.role == "system":
            system = turn.content
        else:
            turns.append(turn)
    return Imported(value.get("model") or None, value.get("mode") or "chat", system, chosen, turns)


# ---------------------------------------------------------------------------- persistence
def saved_form(conversation: Conversation) -> dict:
    """What lib/persistence.py keeps of a conversation: every turn with its numbers, its reasoning,
    the `think` and `format` it was asked with, whether it was stopped, failed or asked again to
    compare, and generate mode's `context`. Not the recorded HTTP calls ("Show the
    HTTP"): they hold the whole history again per answer, and a reload may do without them."""
    return {"format": EXPORT_FORMAT, "version": 1,
            "messages": [as_message(turn, context=True) for turn in list(conversation.turns)]}


def from_saved_form(data: dict) -> list[Turn]:
    """The turns of `saved_form` output, checked like an import (ImportRefused if not)."""
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list):
        raise ImportRefused("chat.import.not_chat")
    return [as_turn(message, number, context=True) for number, message in enumerate(messages, start=1)]
