"""Turn request bodies into checked values, with Ollama's error texts, or raise ApiError (4xx).

Ollama decodes bodies into Go structs; this module reproduces the parts a client can observe: the
body is JSON whatever the Content-Type, unknown top-level fields are ignored, wrong types are
rejected, options are typed one by one, `keep_alive` takes seconds or a Go duration.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import logging
import math
import re
from typing import Any

log = logging.getLogger("builtin_server")


class ApiError(Exception):
    """An error answered as `{"error": message}` with an HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


# --- the body -------------------------------------------------------------------------------------

def _reject_constant(name: str) -> None:
    # Python's json accepts NaN and Infinity; Go's (and the JSON spec) do not.
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(value: Any) -> Any:
    """Replace lone surrogates (`"\\ud800"`) with U+FFFD as Go does, so the text encodes as UTF-8."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)  # json.loads already joined the valid pairs
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def parse_body(raw: bytes, go_type: str) -> dict[str, Any]:
    """Decode a JSON object body; `go_type` names the struct in messages like Ollama's."""
    text = raw.decode("utf-8", "replace")
    if not text.strip():
        raise bad_request("missing request body")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise bad_request(f"invalid JSON body: {exc}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request(f"json: cannot unmarshal {json_kind(value)} into Go value of type {go_type}")
    return _clean(value)


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_error(go_type: str, field: str, value: Any, want: str) -> ApiError:
    return bad_request(
        f"json: cannot unmarshal {json_kind(value)} into Go struct field {go_type}.{field} of type {want}")


def field(body: dict, go_type: str, name: str, kind: str) -> Any:
    """One top-level field, type-checked. `kind`: str, bool, int_list, str_list, object, list.

    null or absent gives None (Go leaves the zero value).
    """
    value = body.get(name)
    if value is None:
        return None
    ok = {
        "str": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "list": lambda v: isinstance(v, list),
        "str_list": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "int_list": lambda v: isinstance(v, list) and all(
            isinstance(x, int) and not isinstance(x, bool) and -2**63 <= x < 2**63 for x in v),
    }[kind]
    if not ok(value):
        want = {"str": "string", "bool": "bool", "object": "map[string]interface {}", "list": "[]interface {}",
                "str_list": "[]string", "int_list": "[]int"}[kind]
        raise _type_error(go_type, name, value, want)
    return value


def model_name(body: dict, go_type: str) -> str:
    name = field(body, go_type, "model", "str") or field(body, go_type, "name", "str")
    if not name:
        raise bad_request("model is required")
    return name


# --- images ----------------------------------------------------------------------------------------

_NOT_B64 = re.compile(r"[^A-Za-z0-9+/=\r\n]")


def check_base64(image: str) -> None:
    """Ollama decodes images while parsing the body (Go []byte): bad base64 is a 400 there."""
    illegal = _NOT_B64.search(image)
    if illegal:
        raise bad_request(f"illegal base64 data at input byte {illegal.start()}")
    try:
        base64.b64decode(image.replace("\r", "").replace("\n", ""), validate=True)
    except ValueError:
        raise bad_request(f"illegal base64 data at input byte {len(image)}") from None


def images(value: Any, go_type: str, name: str = "images") -> list[str]:
    found = field({name: value}, go_type, name, "str_list") or []
    for image in found:
        check_base64(image)
    return found


# --- keep_alive ------------------------------------------------------------------------------------

DEFAULT_KEEP_ALIVE = 300.0  # seconds, Ollama's 5m
MAX_DURATION = (2**63 - 1) / 1e9
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """time.ParseDuration, in seconds: "5m", "1h30m", "-1m", "1.5s", "0"."""
    sign = -1.0 if text.startswith("-") else 1.0
    s = text[1:] if text[:1] in ("+", "-") else text
    if s == "0":
        return 0.0
    if not s:
        raise bad_request(f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(s):
        match = _GO_PART.match(s, pos)
        if not match:
            if re.fullmatch(r"\d+\.?\d*|\.\d+", s[pos:]):
                raise bad_request(f'time: missing unit in duration "{text}"')
            raise bad_request(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def _float(value: int | float) -> float:
    """A JSON number as a float; integers too large for a float (10**400) become inf."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def keep_alive(value: Any) -> float:
    """Seconds to keep the model loaded after this request: 0 unloads now, math.inf is forever."""
    if value is None:
        return DEFAULT_KEEP_ALIVE
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise bad_request(f"Unsupported type: '{json_kind(value)}' for keep_alive")
    seconds = parse_go_duration(value) if isinstance(value, str) else _float(value)
    # Beyond Go's largest time.Duration (about 292 years) is "forever" too.
    return math.inf if seconds < 0 or seconds > MAX_DURATION else seconds


# --- options ---------------------------------------------------------------------------------------

_INT_OPTIONS = {"num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx", "num_batch",
                "num_gpu", "main_gpu", "num_thread"}
_FLOAT_OPTIONS = {"top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty",
                  "frequency_penalty"}
_BOOL_OPTIONS = {"use_mmap"}
REMOVED_OPTIONS = {"num_gqa", "rope_frequency_base", "rope_frequency_scale", "numa", "tfs_z",
                   "penalize_newline", "low_vram", "f16_kv", "logits_all", "vocab_only", "use_mlock",
                   "mirostat", "mirostat_tau", "mirostat_eta"}
# Accepted and type-checked, but with no effect on a CPU-only llama.cpp (no GPU to offload to).
_NO_EFFECT = {"num_keep", "num_gpu", "main_gpu", "use_mmap"}


@dataclasses.dataclass(frozen=True)
class Options:
    """Sampling and runner options with Ollama's defaults (OLLAMA_API.md)."""
    seed: int = -1
    num_predict: int = -1
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.0
    typical_p: float = 1.0
    repeat_last_n: int = 64
    temperature: float = 0.8
    repeat_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    num_ctx: int = 0      # 0: the server's default
    num_batch: int = 512
    num_thread: int = 0   # 0: the server's default


def options(value: Any) -> Options:
    """Type-check `options` as Ollama's api.Options.FromMap does; ignore removed and unknown keys.

    Ollama answers a wrong option type with 500 (it surfaces from the runner); here it is a 400,
    since it is the client's mistake, with Ollama's message text.
    """
    if value is None:
        return Options()
    if not isinstance(value, dict):
        raise _type_error("GenerateRequest", "options", value, "map[string]interface {}")
    chosen: dict[str, Any] = {}
    for key, v in value.items():
        if key in REMOVED_OPTIONS:
            log.warning("option %r is no longer supported by Ollama and is ignored", key)
            continue
        if v is None:
            continue
        if key in _INT_OPTIONS:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise bad_request(f'option "{key}" must be of type integer')
            v = int(v)  # Go converts the JSON float64 with int64(v): 1.9 -> 1
        elif key in _FLOAT_OPTIONS:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(_float(v)):
                raise bad_request(f'option "{key}" must be of type float32')
            v = float(v)
        elif key in _BOOL_OPTIONS:
            if not isinstance(v, bool):
                raise bad_request(f'option "{key}" must be of type boolean')
        elif key == "stop":
            if isinstance(v, str):
                raise bad_request(
                    'option "stop" must be of type array: a list of strings such as ["\\n", "User:"], '
                    "not a bare string")
            if not isinstance(v, list):
                raise bad_request('option "stop" must be of type array')
            if not all(isinstance(s, str) for s in v):
                raise bad_request('option "stop" must be of an array of strings')
            v = tuple(s for s in v if s)
        else:
            log.warning("option %r is not a known Ollama option and is ignored", key)
            continue
        if key not in _NO_EFFECT:
            chosen[key] = v
    return Options(**chosen)


def output_format(value: Any) -> str | dict | None:
    """`format`: "json" or a JSON Schema object; None for free text."""
    if value is None or value == "":
        return None
    if value == "json" or isinstance(value, dict):
        return value
    raise bad_request(f"invalid format: {json.dumps(value)[:80]}; expected \"json\" or a JSON schema object")
