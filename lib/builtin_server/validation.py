"""Turn request bodies into checked values, with Ollama's error texts, or raise ApiError (4xx).

Ollama decodes bodies into Go structs; this module reproduces the parts a client can observe: the
body is JSON whatever the Content-Type, unknown top-level fields are ignored, wrong types are
rejected, options are typed one by one, `keep_alive` takes seconds or a Go duration. The Ollama
facts themselves (options, durations) are lib.ollama_facts'.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import logging
import re
from typing import Any

from lib import ollama_facts

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


MAX_DEPTH = 100  # nesting a client may send; what is deeper would exhaust Python's recursion later


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest (iteratively: no recursion to run out of)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


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
    if _depth(value) > MAX_DEPTH:
        raise bad_request(f"invalid JSON body: exceeded max depth (more than {MAX_DEPTH} levels of nesting)")
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

def keep_alive(value: Any) -> float:
    """Seconds to keep the model loaded after this request: 0 unloads now, math.inf is forever."""
    try:
        return ollama_facts.keep_alive_seconds(value)
    except TypeError:
        raise bad_request(f"Unsupported type: '{json_kind(value)}' for keep_alive") from None
    except ValueError as exc:  # not a Go duration: Go's message
        raise bad_request(str(exc)) from None


# --- options ---------------------------------------------------------------------------------------

_DEFAULT = {option.name: option.default for option in ollama_facts.OPTIONS}


@dataclasses.dataclass(frozen=True)
class Options:
    """The options this engine uses, with Ollama's defaults; None: the engine chooses (num_ctx, num_batch).

    The other current options are type-checked and have no effect here: num_keep (no context
    shift), num_gpu, main_gpu and use_mmap (CPU only), draft_num_predict (no draft model).
    """
    seed: int = _DEFAULT["seed"]
    num_predict: int = _DEFAULT["num_predict"]
    top_k: int = _DEFAULT["top_k"]
    top_p: float = _DEFAULT["top_p"]
    min_p: float = _DEFAULT["min_p"]
    typical_p: float = _DEFAULT["typical_p"]
    repeat_last_n: int = _DEFAULT["repeat_last_n"]
    temperature: float = _DEFAULT["temperature"]
    repeat_penalty: float = _DEFAULT["repeat_penalty"]
    presence_penalty: float = _DEFAULT["presence_penalty"]
    frequency_penalty: float = _DEFAULT["frequency_penalty"]
    stop: tuple[str, ...] = ()
    num_ctx: int | None = _DEFAULT["num_ctx"]
    num_batch: int | None = _DEFAULT["num_batch"]
    num_thread: int = _DEFAULT["num_thread"]


_USED = {f.name for f in dataclasses.fields(Options)}


def options(value: Any, defaults: dict | None = None) -> Options:
    """Type-check `options` as Ollama's api.Options.FromMap does; ignore removed and unknown keys.

    `defaults` are the model's own PARAMETERs (checked when the model was created): the effective
    value of an option is the server's default, then the model's, then the request's.
    Ollama answers a wrong option type with 500 (it surfaces from the runner); here it is a 400,
    since it is the client's mistake, with Ollama's message text.
    """
    chosen: dict[str, Any] = {}
    for key, v in (defaults or {}).items():
        option = ollama_facts.OPTIONS_BY_NAME.get(key)
        if option is None or key not in _USED:
            continue
        try:
            v = option.convert(v)
        except TypeError:
            log.warning("the model's parameter %r has a wrong type and is ignored", key)
            continue
        if v is not None:
            chosen[key] = tuple(s for s in v if s) if key == "stop" else v
    if value is None:
        return Options(**chosen)
    if not isinstance(value, dict):
        raise _type_error("GenerateRequest", "options", value, "map[string]interface {}")
    for key, v in value.items():
        option = ollama_facts.OPTIONS_BY_NAME.get(key)
        if option is None:
            if key in ollama_facts.REMOVED_BY_NAME:
                log.warning("option %r is no longer supported by Ollama and is ignored", key)
            else:
                log.warning("option %r is not a known Ollama option and is ignored", key)
            continue
        if key == "stop" and isinstance(v, str):
            raise bad_request('option "stop" must be of type array: a list of strings such as ["\\n", "User:"], '
                              "not a bare string")
        try:
            v = option.convert(v)
        except TypeError as exc:
            raise bad_request(str(exc)) from None
        if v is not None and key in _USED:
            chosen[key] = tuple(s for s in v if s) if key == "stop" else v
    return Options(**chosen)


def output_format(value: Any) -> str | dict | None:
    """`format`: "json" or a JSON Schema object; None for free text."""
    if value is None or value == "":
        return None
    if value == "json" or isinstance(value, dict):
        return value
    raise bad_request(f"invalid format: {json.dumps(value)[:80]}; expected \"json\" or a JSON schema object")
