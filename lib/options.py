"""The `options` object of /api/generate and /api/chat: what exists today, its type, its default,
what it means (i18n `option.<name>`), what was removed, and validation before anything is sent.

Source: ../shared/OLLAMA_API.md (Ollama ~v0.33). The course's table is older: several of its
options were removed and several descriptions were wrong; lib/ and the lab's reference say so.
"""
from __future__ import annotations

import functools
import json
import pathlib
import re
from dataclasses import dataclass

INT, FLOAT, BOOL, STRINGS = "int", "float", "bool", "list[str]"


@dataclass(frozen=True)
class Option:
    name: str
    type: str
    default: object  # None: decided by the server or the model

    @property
    def meaning_key(self) -> str:
        return f"option.{self.name}"


CURRENT = (
    Option("num_keep", INT, 4), Option("seed", INT, -1), Option("num_predict", INT, -1),
    Option("top_k", INT, 40), Option("top_p", FLOAT, 0.9), Option("min_p", FLOAT, 0.0),
    Option("typical_p", FLOAT, 1.0), Option("repeat_last_n", INT, 64),
    Option("temperature", FLOAT, 0.8), Option("repeat_penalty", FLOAT, 1.0),
    Option("presence_penalty", FLOAT, 0.0), Option("frequency_penalty", FLOAT, 0.0),
    Option("stop", STRINGS, None), Option("num_ctx", INT, None), Option("num_batch", INT, 512),
    Option("num_gpu", INT, -1), Option("main_gpu", INT, 0), Option("use_mmap", BOOL, None),
    Option("num_thread", INT, 0),
)
BY_NAME = {option.name: option for option in CURRENT}

# removed option -> the Ollama version that stopped honouring it (it is ignored with a warning)
REMOVED = {
    "num_gqa": "0.1.35", "rope_frequency_base": "0.1.35", "rope_frequency_scale": "0.1.35",
    "numa": "0.3.4", "tfs_z": "0.5.2", "penalize_newline": "0.5.5", "low_vram": "0.6.9",
    "f16_kv": "0.6.9", "logits_all": "0.6.9", "vocab_only": "0.6.9", "use_mlock": "0.6.9",
    "mirostat": "0.6.9", "mirostat_tau": "0.6.9", "mirostat_eta": "0.6.9",
}

_GO_DURATION = re.compile(r"^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


@dataclass(frozen=True)
class Problem:
    """Something wrong with one option; `key` names the translated message."""

    name: str
    key: str  # options.problem.unknown | removed | type | not_object | json
    values: dict


def _type_ok(option: Option, value) -> bool:
    if option.type == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if option.type == FLOAT:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if option.type == BOOL:
        return isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def check(options: dict) -> list[Problem]:
    """Unknown, removed and wrongly typed options: what Ollama would ignore or refuse."""
    problems = []
    for name, value in options.items():
        if name in REMOVED:
            problems.append(Problem(name, "options.problem.removed", {"name": name, "version": REMOVED[name]}))
        elif name not in BY_NAME:
            problems.append(Problem(name, "options.problem.unknown", {"name": name}))
        elif not _type_ok(BY_NAME[name], value):
            problems.append(Problem(name, "options.problem.type",
                                    {"name": name, "type": BY_NAME[name].type, "value": json.dumps(value)}))
    return problems


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
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if _GO_DURATION.match(text):
        return text
    raise ValueError(text)


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
