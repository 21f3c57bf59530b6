"""A recorded call as the `ollama` command line makes it (the "Terminal" tab of "Show the HTTP").

Checked against ollama/ollama at fb30760 (v0.33.0-rc2), cmd/cmd.go and cmd/interactive.go:
- `ollama run MODEL "PROMPT"` (RunHandler -> generate) is ONE /api/generate; flags --format,
  --think, --keepalive; image paths inside the prompt are read and sent as `images` (extractFileData).
  It has no flag for options or a system prompt.
- `ollama run MODEL` with no prompt loads the model (an empty /api/generate, loadOrUnloadModel) and
  opens the interactive session (generateInteractive): every message is an /api/chat with the whole
  history; `/set parameter`, `/set system`, `/set think|nothink`, `/set format json` set the fields.
- pull, list (/api/tags), ps, show, rm (/api/delete), cp (/api/copy), create, stop (/api/generate with
  keep_alive 0), --version (/api/version); `ollama run EMBEDDING-MODEL "text"` is one /api/embed
  (generateEmbedding, flags --truncate and --dimensions) and prints the vector.
- OLLAMA_HOST picks the server (api.ClientFromEnvironment -> envconfig.Host).
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from urllib.parse import urlsplit

from lib.client import Exchange
from lib.ollama_facts import (BOOL, DEFAULT_PORT, INT, LOCAL_HOSTS, OPTIONS_BY_NAME, REPL_CONTINUE,
                              REPL_PROMPT, REPL_QUOTES, keep_alive_seconds)


@dataclass(frozen=True)
class Twin:
    lines: tuple[str, ...]  # as typed: shell lines, then the session's lines after its ">>> " prompt
    note_key: str | None = None  # i18n key (http.json) saying what this form does differently
    left_out: tuple[str, ...] = ()  # request fields the command line cannot send

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def quote(text: str) -> str:
    """Single-quoted for sh/bash: nothing inside is expanded (`$(…)`, backquotes, `!`); newlines stay."""
    return "'" + text.replace("'", "'\\''") + "'"


def _host_prefix(base_url: str) -> str:
    """`OLLAMA_HOST=… ` when the server is not the one the CLI calls by default (127.0.0.1:11434)."""
    parts = urlsplit(base_url)
    if parts.hostname in LOCAL_HOSTS and parts.port == DEFAULT_PORT and parts.scheme == "http":
        return ""
    return f"OLLAMA_HOST={shlex.quote(base_url.rstrip('/'))} "


def _duration(value) -> str | None:
    """keep_alive as `--keepalive` takes it (Go's time.ParseDuration: a unit is required)."""
    try:
        keep_alive_seconds(value)
    except (TypeError, ValueError):
        return None
    if isinstance(value, str):
        return value
    written = f"{value:g}s"  # seconds; negative is forever, as in the API
    return None if "e" in written else written


def _unloads(body: dict) -> bool:
    try:
        return body.get("keep_alive") is not None and keep_alive_seconds(body["keep_alive"]) == 0
    except (TypeError, ValueError):
        return False


def _parameter(name: str, value) -> str | None:
    """`/set parameter NAME VALUE` (api.FormatParams: only api.Options fields; strconv parses the
    words, so an int is typed without a decimal point and a stop sequence cannot hold a space)."""
    option = OPTIONS_BY_NAME.get(name)
    if option is None or value is None:
        return None
    if isinstance(value, list):
        if not value or not all(isinstance(v, str) and v and not any(c.isspace() for c in v) for v in value):
            return None
        return f"/set parameter {name} {' '.join(value)}"
    if option.type == BOOL:
        return f"/set parameter {name} {str(value).lower()}" if isinstance(value, bool) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    shown = int(value) if option.type == INT else value
    return f"/set parameter {name} {shown}"


def _typed(text: str) -> list[str]:
    """A message as typed at the `>>> ` prompt: a line; several lines inside triple quotes (the first
    line opens it, the last closes it); a text that starts with `/` inside triple quotes too, or the
    session would take it for a command."""
    lines = text.split("\n")
    if len(lines) == 1:
        return [f"{REPL_QUOTES}{text}{REPL_QUOTES}" if text.startswith(("/", REPL_QUOTES)) else text]
    return [REPL_QUOTES + lines[0], *lines[1:-1], lines[-1] + REPL_QUOTES]


def _system(text: str) -> list[str]:
    """`/set system TEXT` joins its words with one space: other whitespace needs the triple-quote form,
    opened alone on the first line (text on that line would be glued to the next one)."""
    if " ".join(text.split()) == text:
        return [f"/set system {text}"]
    return [f"/set system {REPL_QUOTES}", *text.split("\n")[:-1], text.split("\n")[-1] + REPL_QUOTES]


def _images(count: int, first: int = 1) -> str:
    return "".join(f" ./image{n}.png" for n in range(first, first + count))


def _think(value, one_shot: bool) -> str | None:
    if value is None:
        return None
    if one_shot:
        return "--think" if value is True else f"--think={str(value).lower()}"
    if value is True:
        return "/set think"
    return "/set nothink" if value is False else f"/set think {value}"


def _run_flags(body: dict, left_out: list[str], one_shot: bool) -> list[str]:
    flags = []
    fmt = body.get("format")
    if fmt == "json" and one_shot:
        flags.append("--format json")
    elif isinstance(fmt, dict):  # the flag's text goes to the server as raw JSON (a schema works)
        flags.append("--format " + quote(_compact(fmt)))
    elif fmt not in (None, "", "json"):
        left_out.append("format")
    if one_shot and (think := _think(body.get("think"), True)):
        flags.append(think)
    if body.get("keep_alive") is not None:
        duration = _duration(body["keep_alive"])
        if duration:
            flags.append(f"--keepalive {shlex.quote(duration)}")
        else:
            left_out.append("keep_alive")
    return flags


def _compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _session(prefix: str, model: str, body: dict, left_out: list[str]) -> list[str]:
    """The session's first lines: `ollama run` with its flags, then the `/set` commands."""
    lines = [" ".join([f"{prefix}ollama run {shlex.quote(model)}", *_run_flags(body, left_out, False)])]
    settings = []
    for name, value in (body.get("options") or {}).items():
        if line := _parameter(name, value):
            settings.append(line)
        else:
            left_out.append(f"options.{name}")
    if think := _think(body.get("think"), False):
        settings.append(think)
    if body.get("format") == "json":
        settings.append("/set format json")
    return lines + [REPL_PROMPT + line for line in settings]


GENERATE_LEFT_OUT = ("raw", "suffix", "template")  # no flag nor /set for them


def _generate(prefix: str, body: dict) -> Twin:
    model, prompt = str(body.get("model", "")), body.get("prompt") or ""
    if not prompt and not body.get("images"):
        if _unloads(body):
            return Twin((f"{prefix}ollama stop {shlex.quote(model)}",), "http.terminal.stop")
        return Twin((f"{prefix}ollama run {shlex.quote(model)}", REPL_PROMPT + "/bye"), "http.terminal.load")
    left_out = [name for name in GENERATE_LEFT_OUT if body.get(name)]
    if body.get("images"):  # the CLI takes the paths out of the text, then trims it (extractFileData)
        prompt = (prompt + _images(len(body["images"]))).strip()
    note = "http.terminal.images" if body.get("images") else None
    if not body.get("options") and not body.get("system") and not body.get("context"):
        flags = _run_flags(body, left_out, True)
        command = " ".join([f"{prefix}ollama run {shlex.quote(model)}", *flags, quote(prompt)])
        return Twin((command,), note or "http.terminal.one_shot", tuple(left_out))
    lines = _session(prefix, model, body, left_out)
    if body.get("system"):
        lines += _at_prompt(_system(str(body["system"])))
    lines += _at_prompt(_typed(prompt)) + [REPL_PROMPT + "/bye"]
    key = "http.terminal.context" if body.get("context") else "http.terminal.session_generate"
    return Twin(tuple(lines), key, tuple(left_out))


def _at_prompt(typed: list[str]) -> list[str]:
    """Lines as the session shows them: `>>> ` first, `... ` inside a triple-quote block."""
    return [REPL_PROMPT + typed[0], *(REPL_CONTINUE + line for line in typed[1:])]


def _chat(prefix: str, body: dict) -> Twin:
    model = str(body.get("model", ""))
    left_out = ["tools"] if body.get("tools") else []
    lines = _session(prefix, model, body, left_out)
    answers, images = 0, 1
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role, content = message.get("role"), str(message.get("content") or "")
        if role == "system":
            lines += _at_prompt(_system(content))
        elif role == "user":
            count = len(message.get("images") or [])
            lines += _at_prompt(_typed((content + _images(count, images)).strip()))
            images += count
        elif role == "assistant":
            answers += 1
        elif "messages.tool" not in left_out:
            left_out.append("messages.tool")
    lines.append(REPL_PROMPT + "/bye")
    return Twin(tuple(lines), "http.terminal.history" if answers else "http.terminal.session_chat",
                tuple(left_out))


def _embed(prefix: str, body: dict) -> Twin:
    """`ollama run` on an embedding model: one text per command, its vector printed as JSON."""
    texts = body.get("input")
    texts = [texts] if isinstance(texts, str) else [t for t in texts or [] if isinstance(t, str)]
    flags = []
    if body.get("truncate") is False:
        flags.append("--truncate=false")
    if body.get("dimensions"):
        flags.append(f"--dimensions {int(body['dimensions'])}")
    start = " ".join([f"{prefix}ollama run {shlex.quote(str(body.get('model', '')))}", *flags])
    return Twin(tuple(f"{start} {quote(text)}" for text in texts), "http.terminal.embed",
                tuple(name for name in ("options", "keep_alive") if body.get(name) is not None))


def _modelfile(body: dict) -> list[str]:
    """The Modelfile the CLI would read for this /api/create (docs/modelfile.mdx)."""
    lines = [f"FROM {body.get('from', '')}"]
    for name, value in (body.get("parameters") or {}).items():
        for item in value if isinstance(value, list) else [value]:
            shown = _compact(item) if isinstance(item, str) else str(item).lower() if isinstance(item, bool) else item
            lines.append(f"PARAMETER {name} {shown}")
    for field in ("system", "template", "license"):
        if body.get(field):
            text = "\n".join(body[field]) if isinstance(body[field], list) else str(body[field])
            lines += f'{field.upper()} """{text}"""'.split("\n")
    return lines


def _create(prefix: str, body: dict) -> Twin:
    model = str(body.get("model", ""))
    modelfile = _modelfile(body)
    end = "EOF"
    while end in modelfile:
        end += "_"  # a here-document ends at the first line that is exactly its delimiter
    return Twin((f"cat > Modelfile <<'{end}'", *modelfile, end,
                 f"{prefix}ollama create {shlex.quote(model)} -f Modelfile"), "http.terminal.create",
                tuple(name for name in ("files", "adapters", "quantize", "messages") if body.get(name)))


def twin(exchange: Exchange) -> Twin | None:
    """The command-line form of the call, or None when the CLI has none."""
    prefix = _host_prefix(exchange.base_url)
    body = exchange.body if isinstance(exchange.body, dict) else {}
    model = shlex.quote(str(body.get("model", "")))
    simple = {
        ("GET", "/api/version"): "ollama --version", ("GET", "/api/tags"): "ollama list",
        ("GET", "/api/ps"): "ollama ps", ("POST", "/api/show"): f"ollama show {model}",
        ("DELETE", "/api/delete"): f"ollama rm {model}",
        ("POST", "/api/copy"): "ollama cp {} {}".format(*(shlex.quote(str(body.get(k, "")))
                                                         for k in ("source", "destination"))),
        ("POST", "/api/pull"): f"ollama pull {'--insecure ' if body.get('insecure') else ''}{model}",
    }
    key = (exchange.method, exchange.path)
    if key in simple:
        note = {"/api/show": "http.terminal.show", "/api/version": "http.terminal.version"}.get(exchange.path)
        return Twin((prefix + simple[key],), note)
    builders = {"/api/generate": _generate, "/api/chat": _chat, "/api/embed": _embed, "/api/create": _create}
    if exchange.method == "POST" and exchange.path in builders:
        return builders[exchange.path](prefix, body)
    return None
