"""Any recorded call as the course teaches it: JSON request, curl, Python `requests` (streamed, and
the en-llama lesson's read-all), the official `ollama` client, raw response, and the final chunk's
fields explained. Pure functions; lib/ui.py lays them out (the `ollama` command: lib/terminal.py).

Base64 images, token lists and long model lists are long: given a `note` (what to write instead of
the rest, in the user's language), the screen versions shorten them; without one (the copies) they
stay complete.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Callable

from lib.client import Exchange
from lib.formatting import NS_PER_S, human_seconds, number
from lib.generation import Generation
from lib.terminal import quote
from lib.ollama_facts import DEFAULT_PORT, DEFAULT_URL, DURATION_FIELDS, METRICS

SHORT_BASE64 = 24  # characters of an image kept on screen
SHORT_MODELS = 5  # models of a long list (/api/tags on a server with 300 models) kept on screen
Note = Callable[[str, int], str]  # (kind: "chars" | "tokens" | "more_models", count) -> "4.920 caracteres"


def shorten_images(body, note: Note | None = None):
    """The body with every `images` entry cut to its first characters (for display only)."""
    if note is None or not isinstance(body, dict):
        return body
    body = copy.deepcopy(body)
    holders = [body] + [m for m in body.get("messages") or [] if isinstance(m, dict)]
    for holder in holders:
        if isinstance(holder.get("images"), list):
            holder["images"] = [shorten(image, note) for image in holder["images"]]
    return body


def shorten(text, note: Note, keep: int = SHORT_BASE64):
    if not isinstance(text, str) or len(text) <= keep * 2:
        return text
    return f"{text[:keep]}…[{note('chars', len(text))}]"


def request_json(exchange: Exchange, note: Note | None = None) -> str:
    if exchange.body is None:
        return ""
    return json.dumps(shorten_images(exchange.body, note), indent=2, ensure_ascii=False)


def curl_command(exchange: Exchange, note: Note | None = None) -> str:
    """As the course writes it: `curl http://localhost:11434/api/generate -d '{...}'`."""
    parts = ["curl"]
    if exchange.method == "HEAD":
        parts.append("-I")
    elif exchange.method == "DELETE" or (exchange.method == "GET" and exchange.body):
        parts += ["-X", exchange.method]
    parts.append(exchange.url)
    if exchange.body is not None:
        parts += ["-d", quote(request_json(exchange, note))]
    return " ".join(parts)


def python_code(exchange: Exchange, note: Note | None = None) -> str:
    """Equivalent Python `requests` code, streaming like the course's lesson when the call streamed."""
    method = exchange.method.lower()
    lines = ["import json" if exchange.streamed else None, "import requests", "",
             f"response = requests.{method}(", f'    "{exchange.url}",']
    if exchange.body is not None:
        body = python_literal(shorten_images(exchange.body, note))
        lines.append("    json=" + body.replace("\n", "\n    ") + ",")
    if exchange.streamed:
        lines += ["    stream=True,", ")", "response.raise_for_status()",
                  "for line in response.iter_lines():  # one JSON object per line (NDJSON)",
                  "    chunk = json.loads(line)",
                  '    if "error" in chunk:',
                  '        raise RuntimeError(chunk["error"])']
        text_field = _text_field(exchange.path)
        if text_field and _thinks(exchange):  # the reasoning streams first, in its own field
            lines += [f"    print({_thinking_field(exchange.path)}, end=\"\", flush=True)  # reasoning",
                      f"    print({text_field}, end=\"\", flush=True)  # answer"]
        elif text_field:
            lines.append(f"    print({text_field}, end=\"\", flush=True)")
        else:
            lines.append("    print(chunk)")
    else:
        lines += [")", "response.raise_for_status()",
                  "print(response.json())" if exchange.path.startswith("/api/") and exchange.method != "DELETE"
                  else "print(response.status_code, response.text)"]
    return "\n".join(line for line in lines if line is not None)


def python_read_all(exchange: Exchange, note: Note | None = None) -> str | None:
    """The en-llama lesson's way for a streamed generate or chat: read the whole body, then split
    its lines. Nothing prints until the answer is complete. The lesson writes `requests.post(url,
    data)` with `data` undefined; the JSON goes in `json=`."""
    field = {"/api/generate": 'answer["response"]', "/api/chat": 'answer["message"]["content"]'}.get(exchange.path)
    if field is None or not exchange.streamed or exchange.body is None:
        return None
    body = python_literal(shorten_images(exchange.body, note))
    return "\n".join([
        "import json", "import requests", "", f'url = "{exchange.url}"', f"json_data = {body}",
        "response = requests.post(url, json=json_data)  # the lesson's `requests.post(url, data)`: data is undefined",
        'json_lines = response.content.decode("utf-8").splitlines()  # the whole body first',
        "answers = [json.loads(json_line) for json_line in json_lines]",
        f'print("".join({field} for answer in answers))'])


# The official client (pip install ollama; checked on ollama-python 0.6.3 with inspect, see
# tests/test_http_view.py): its method for each path, and the request fields it takes as arguments.
# It has no method for /api/version.
CLIENT_METHODS = {
    "/api/generate": ("generate", ("model", "prompt", "suffix", "system", "template", "context", "stream", "think",
                                   "raw", "format", "images", "options", "keep_alive")),
    "/api/chat": ("chat", ("model", "messages", "tools", "stream", "think", "format", "options", "keep_alive")),
    "/api/pull": ("pull", ("model", "insecure", "stream")),
    "/api/create": ("create", ("model", "quantize", "from_", "files", "adapters", "template", "license", "system",
                               "parameters", "messages", "stream")),
    "/api/embed": ("embed", ("model", "input", "truncate", "options", "keep_alive", "dimensions")),
    "/api/show": ("show", ("model",)), "/api/delete": ("delete", ("model",)),
    "/api/copy": ("copy", ("source", "destination")), "/api/tags": ("list", ()), "/api/ps": ("ps", ()),
}
STREAMING_PATHS = ("/api/generate", "/api/chat", "/api/pull", "/api/create")  # the ones that can stream


def _client_output(path: str, body: dict, streamed: bool) -> list[str]:
    """What the snippet prints with the client's typed answer."""
    if streamed:
        item = {"/api/generate": ["    print(chunk.response, end=\"\", flush=True)"],
                "/api/chat": ["    print(chunk.message.content, end=\"\", flush=True)"]}.get(
            path, ["    print(chunk.status, chunk.completed or \"\", chunk.total or \"\")"])
        if path in ("/api/generate", "/api/chat") and (body.get("think") not in (None, False)):
            thinking = "chunk.thinking" if path == "/api/generate" else "chunk.message.thinking"
            item = [f"    print({thinking} or \"\", end=\"\", flush=True)  # reasoning first", *item]
        return ["for chunk in answer:  # one object per NDJSON line", *item]
    return {"/api/generate": ["print(answer.response)" if body.get("prompt") else "print(answer.done_reason)"],
            "/api/chat": ["print(answer.message.content)"],
            "/api/embed": ["for vector in answer.embeddings:", "    print(len(vector), vector[:4])"],
            "/api/tags": ["for model in answer.models:", "    print(model.model, model.size)"],
            "/api/ps": ["for model in answer.models:", "    print(model.model, model.size_vram, model.expires_at)"],
            "/api/show": ["print(answer.capabilities)", "print(answer.parameters)"],
            }.get(path, ["print(answer.status)"])


def ollama_code(exchange: Exchange, note: Note | None = None) -> str | None:
    """The call with the official `ollama` Python client, or None where it has no method.

    Unlike the HTTP API, the client does not stream unless given `stream=True`."""
    if exchange.path not in CLIENT_METHODS:
        return None
    method, accepted = CLIENT_METHODS[exchange.path]
    body = shorten_images(exchange.body, note) if isinstance(exchange.body, dict) else {}
    streamed = exchange.streamed or (exchange.path in STREAMING_PATHS and body.get("stream") is True)
    if exchange.base_url.rstrip("/") in (DEFAULT_URL, f"http://localhost:{DEFAULT_PORT}"):
        lines, caller = ["import ollama", ""], "ollama"
    else:  # the client reads OLLAMA_HOST, else 127.0.0.1:11434: another server is named
        lines, caller = ["from ollama import Client", "", f"client = Client(host={json.dumps(exchange.base_url)})"], "client"
    arguments, unknown = [], []
    for name, value in body.items():
        argument = "from_" if name == "from" else name
        if name == "stream":
            continue
        if argument in accepted:
            arguments.append(f"    {argument}={python_literal(value, 1)},")
        else:
            unknown.append(name)
    if streamed:
        arguments.append("    stream=True,")
    if unknown:
        lines.append(f"# not an argument of {method}(): {', '.join(unknown)}")
    call = f"answer = {caller}.{method}("
    lines += [call + ")"] if not arguments else [call, *arguments, ")"]
    return "\n".join(lines + _client_output(exchange.path, body, streamed))


def python_literal(value, depth: int = 0) -> str:
    """A JSON value as Python source, laid out like `json.dumps(indent=4)`: JSON's `true`, `false`
    and `null` are Python's True, False and None (every request carries `"stream": true`), and
    JSON's string escapes are valid in Python strings."""
    pad, end = "    " * (depth + 1), "    " * depth
    if isinstance(value, dict) and value:
        items = (f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {python_literal(v, depth + 1)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + f"\n{end}}}"
    if isinstance(value, list) and value:
        return "[\n" + ",\n".join(pad + python_literal(v, depth + 1) for v in value) + f"\n{end}]"
    if value is None or isinstance(value, bool):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _text_field(path: str) -> str | None:
    return {"/api/generate": 'chunk.get("response", "")',
            "/api/chat": 'chunk.get("message", {}).get("content", "")'}.get(path)


def _thinking_field(path: str) -> str:
    return 'chunk.get("message", {}).get("thinking", "")' if path == "/api/chat" else 'chunk.get("thinking", "")'


def _thinks(exchange: Exchange) -> bool:
    """A call to a thinking model: `think` sent (other than false), or reasoning in the response."""
    body = exchange.body if isinstance(exchange.body, dict) else {}
    if body.get("think") not in (None, False):
        return True
    return any(b'"thinking"' in line for line in exchange.lines)


def response_text(exchange: Exchange, note: Note, collapse_after: int = 20) -> tuple[str, int]:
    """The raw response for display, and how many lines were left out of it.

    Long streams show their first and last lines; the middle is counted, not shown.
    """
    head, recorded_gap, tail = exchange.response_lines()
    lines = [shorten_response_line(line, note) for line in head + tail]
    if len(lines) <= collapse_after:
        return "\n".join(lines), recorded_gap
    keep_head = collapse_after - 5
    hidden = len(lines) - collapse_after + recorded_gap
    return "\n".join(lines[:keep_head] + ["…"] + lines[-5:]), hidden


def shorten_response_line(line: str, note: Note) -> str:
    """Long lists are meaningless to read whole: token lists (`context`) show a few tokens and the
    count; a long model list (`/api/tags`: 113 KB at 300 models) its first models and how many more."""
    if len(line) < 400 or ('"context"' not in line and '"models"' not in line):
        return line
    try:
        value = json.loads(line)
    except ValueError:
        return line
    if not isinstance(value, dict):
        return line
    tokens, listed = value.get("context"), value.get("models")
    if isinstance(tokens, list) and len(tokens) > 8:
        value["context"] = tokens[:6] + [f"… {note('tokens', len(tokens))}"]
    elif isinstance(listed, list) and len(listed) > 2 * SHORT_MODELS:
        value["models"] = listed[:SHORT_MODELS] + [f"… {note('more_models', len(listed) - SHORT_MODELS)}"]
    else:
        return line
    return json.dumps(value, ensure_ascii=False)


def response_body(exchange: Exchange) -> str:
    """The response as received, for its download: a JSON answer is recorded whole (a stream keeps
    its first and last lines)."""
    head, _, tail = exchange.response_lines()
    return "\n".join(head + tail)


@dataclass(frozen=True)
class Field:
    name: str
    value: str  # as the server sent it
    readable: str  # converted (seconds, counts)
    meaning_key: str  # i18n key of the explanation


ORDER = ("model", "created_at", "done", "done_reason", "response", "thinking", "message", *METRICS, "context")


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _short_json(value) -> str:
    raw = json.dumps(value, ensure_ascii=False)
    return raw if len(raw) < 80 else raw[:77] + "…"


def explain_final(chunk: dict | None, note: Note, lang: str = "en") -> list[Field]:
    """Each field of a final chunk with a readable value; derived speeds at the end."""
    if not chunk:
        return []
    fields = []
    for name in ORDER:
        if name not in chunk:
            continue
        value = chunk[name]
        if name in DURATION_FIELDS and isinstance(value, (int, float)):
            readable = human_seconds(value / NS_PER_S, lang)
        elif name == "context" and isinstance(value, list):
            readable = note("tokens", len(value))
        elif name == "message" and isinstance(value, dict):
            readable = f'{value.get("role", "")}: {note("chars", len(_text(value.get("content"))))}'
        elif name in ("response", "thinking"):
            readable = note("chars", len(_text(value)))
        else:
            readable = str(value)
        fields.append(Field(name, _short_json(value), readable, f"field.{name}"))
        if name == "message" and isinstance(value, dict) and "thinking" in value:
            fields.append(Field("message.thinking", _short_json(value["thinking"]),
                                note("chars", len(_text(value["thinking"]))), "field.message.thinking"))
    # prompt_eval_count is cache_n + prompt_n while prompt_eval_duration is prompt_ms, the new tokens
    # only (llm/llama_server.go promptEvalCount): on a cache hit the prompt speed is inflated (field.*).
    done = Generation.from_final(chunk)
    for name, speed, source in (("tokens_per_second", done.tokens_per_second, "eval_count / eval_duration"),
                                ("prompt_tokens_per_second", done.prompt_tokens_per_second,
                                 "prompt_eval_count / prompt_eval_duration")):
        if speed is not None:
            fields.append(Field(name, source, f"{number(speed, '.1f', lang)} tokens/s", f"field.{name}"))
    return fields
