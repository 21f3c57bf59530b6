"""The `options` object of /api/generate and /api/chat as the dashboard shows and checks it: what
exists today, its type, its default, what it means (i18n `option.<name>`), what was removed, and
validation before anything is sent.

The facts are lib.ollama_facts' (Ollama ~v0.33). The course's table is older: several of its
options were removed and several descriptions were wrong; lib/ and the lab's reference say so.
"""
from __future__ import annotations

import functools
import json
import pathlib
from dataclasses import dataclass

from lib import ollama_facts

INT = ollama_facts.INT  # lib/ui turns a number input into an int or a float with it
CURRENT = ollama_facts.OPTIONS
BY_NAME = ollama_facts.OPTIONS_BY_NAME
# removed option -> the Ollama version that removed it (it is ignored with a warning)
REMOVED = {option.name: option.removed_in for option in ollama_facts.REMOVED_OPTIONS}


@dataclass(frozen=True)
class Problem:
    """Something wrong with one option; `key` names the translated message."""

    name: str
    key: str  # options.problem.unknown | removed | type | not_object | json
    values: dict

    @property
    def blocking(self) -> bool:
        """Ollama would refuse the request (400). An unknown or removed option is only ignored
        (api/types.go FromMap logs `invalid option provided`), so it may be sent on purpose."""
        return self.key not in ("options.problem.unknown", "options.problem.removed")


def check(options: dict) -> list[Problem]:
    """Unknown, removed and wrongly typed options: what Ollama would ignore or refuse."""
    problems = []
    for name, value in options.items():
        if name in REMOVED:
            problems.append(Problem(name, "options.problem.removed", {"name": name, "version": REMOVED[name]}))
        elif name not in BY_NAME:
            problems.append(Problem(name, "options.problem.unknown", {"name": name}))
        else:
            try:
                BY_NAME[name].convert(value)
            except TypeError:
                problems.append(Problem(name, "options.problem.type",
                                        {"name": name, "type": BY_NAME[name].type, "value": json.dumps(value)}))
    return problems


def notes(options: dict) -> list[Problem]:
    """What is accepted but not as written: a fraction for an int option, which Ollama truncates
    (api/types.go FromMap: `case float64: field.SetInt(int64(t))`)."""
    found = []
    for name, value in options.items():
        option = BY_NAME.get(name)
        if option is not None and option.type == INT and isinstance(value, float) and not value.is_integer():
            try:
                found.append(Problem(name, "options.note.truncated",
                                     {"name": name, "value": value, "kept": option.convert(value)}))
            except TypeError:
                pass  # inf or nan: check() says it is refused
    return found


def parse_advanced(text: str) -> tuple[dict, list[Problem]]:
    """The advanced box: a JSON object of any options. Returns (options, problems)."""
    if not text.strip():
        return {}, []
    try:
        value = json.loads(text)
    except ValueError as error:
        return {}, [Problem("", "options.problem.json", {"error": str(error)})]
    if not isinstance(value, dict):
        return {}, [Problem("", "options.problem.not_object", {})]
    return value, check(value)


def parse_stop(text: str) -> list[str]:
    """One stop sequence per line; `\\n` written literally means a newline (the course's example)."""
    return [line.replace("\\n", "\n") for line in text.splitlines() if line != ""]


def parse_keep_alive(text: str) -> int | str | None:
    """'' -> server default; '0', '-1', '300' -> seconds; '5m', '1h30m' -> Go duration. ValueError otherwise."""
    text = text.strip()
    if not text:
        return None
    digits = text.removeprefix("-")
    if digits.isascii() and digits.isdigit():
        return int(text)
    ollama_facts.parse_go_duration(text)  # ValueError with Go's message if Ollama would refuse it
    return text


# --- the options that run: server defaults <- the model's PARAMETERs <- the request -----------------

SERVER, MODEL, REQUEST = "server", "model", "request"


def _parameter_value(text: str):
    """One value as /api/show prints it (Go's %#v): a quoted string, a number or true/false."""
    if text.startswith('"'):
        try:
            return json.loads(text)  # Go's quoting of a string is JSON's for everything a Modelfile holds
        except ValueError:
            return text.strip('"')
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def model_parameters(show: dict) -> dict[str, object]:
    """The model's own Modelfile PARAMETERs from /api/show's "parameters" text (lines such as
    `stop "<|im_start|>"` and `temperature 0.7`), typed with the facts module's option types; repeated
    `stop` lines become a list; unknown names kept as text.

    Ollama writes one `name value` line per parameter, a list one line per item (server/routes.go
    GetModelInfo: `fmt.Sprintf("%-*s %#v", 30, k, v)`).
    """
    params: dict[str, object] = {}
    for line in str(show.get("parameters") or "").splitlines():
        name, _, raw = line.strip().partition(" ")
        if not name:
            continue
        raw = raw.strip()
        option = BY_NAME.get(name)
        if option is None:
            params[name] = raw
            continue
        value = _parameter_value(raw)
        if option.type == ollama_facts.STRINGS:
            params.setdefault(name, []).append(value if isinstance(value, str) else raw)
            continue
        try:
            params[name] = option.convert(value)
        except TypeError:
            params[name] = raw
    return params


def effective_options(model_params: dict, request: dict) -> dict[str, tuple[object, str]]:
    """Every current option -> (value, source), source one of "server", "model", "request": Ollama's
    DefaultOptions <- the model's PARAMETERs <- the request (server/routes.go
    modelOptionsWithEmbeddingBatchDefault: FromMap(model.Options), then FromMap(requestOpts)).
    Options the server chooses at load time (num_ctx, num_batch, main_gpu, use_mmap; draft_num_predict,
    4 with a draft model, else 0) have value None with source "server". min_p, not in DefaultOptions,
    is Go's zero value 0.0 (off): that is what runs (llm/llama_server.go sends it as is). A request value of the wrong type is left out (Ollama
    would refuse the request); a float for an int option is truncated, as Ollama does."""
    effective: dict[str, tuple[object, str]] = {}
    for option in CURRENT:
        value, source = option.default, SERVER
        for layer, layer_source in ((model_params, MODEL), (request, REQUEST)):
            if layer.get(option.name) is None:
                continue
            try:
                value, source = option.convert(layer[option.name]), layer_source
            except TypeError:
                pass
        effective[option.name] = (value, source)
    return effective


COURSE_TABLE = pathlib.Path(__file__).resolve().parent.parent / "assets" / "course_options.json"


@dataclass(frozen=True)
class CourseRow:
    """One row of the course's 31-option table, as written, with what is true today."""

    no: int
    name: str
    course_value: str
    course_text: str  # quoted in Spanish, as the course wrote it
    verdict: str  # right | imprecise | wrong: the course's description
    removed_in: str | None  # the Ollama version that removed it, or None if it still exists

    @property
    def meaning_key(self) -> str:
        """The accurate meaning: today's for current options, what it used to do for removed ones."""
        return f"option.{self.name}" if self.removed_in is None else f"removed_option.{self.name}"


@functools.cache
def course_table() -> tuple[CourseRow, ...]:
    rows = json.loads(COURSE_TABLE.read_text(encoding="utf-8"))["rows"]
    return tuple(CourseRow(row["no"], row["name"], row["course_value"], row["course_text"],
                           row["verdict"], REMOVED.get(row["name"])) for row in rows)
