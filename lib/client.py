"""The one HTTP client of the dashboard: every call to an Ollama (or compatible) server goes here.

- One `requests.Session` per client; the UI keeps one client per user session.
- Connect and read timeouts on every call, so a dead or slow server never hangs a page.
- Streaming endpoints return a `Stream`: NDJSON parsed lazily, line by line, every line checked for
  `{"error": ...}`, closable mid-way (closing the socket is how Ollama learns to stop generating).
- Failures are typed exceptions (below) that pages turn into translated messages.
- Every exchange is recorded (`Exchange`) so a page can show it as HTTP: request, curl, response.
"""
from __future__ import annotations

import itertools
import json
import re
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import urljoin

import requests
from urllib3.exceptions import NameResolutionError, ReadTimeoutError

from lib.ollama_facts import CAPABILITY_IN_ERRORS

CONNECT_TIMEOUT = 3.0  # seconds to open the TCP connection: a down server fails fast
READ_TIMEOUT = 600.0  # seconds between bytes: a cold 7B model on a CPU can take minutes to load
STATUS_READ_TIMEOUT = 10.0  # status calls (version, tags, ps) answer at once on a healthy server
MAX_LINE_BYTES = 32 * 1024 * 1024  # one NDJSON line or one JSON body; past it, it is not Ollama
RECORDED_LINES = 400  # lines of a stream kept for "Show the HTTP" (head and tail); the rest counted
HISTORY_SIZE = 50

# Ollama >= 0.3.x: model 'x' not found; <= 0.3.0: model "x" not found, try pulling it first
_NOT_FOUND = re.compile(r"""model ['"](?P<model>.+?)['"] not found""")
_NO_MESSAGE: dict = {}
# v0.33: `llama-server reported out-of-memory during startup` (hyphenated); the runner's own words
# (llm/status.go); older servers: `model requires more system memory (...) than is available`
_OUT_OF_MEMORY = re.compile(r"out[-_ ]of[-_ ](?:device[-_ ])?memory|requires more system memory|"
                            r"insufficient memory|not enough memory|failed to allocate|"
                            r"allocation failed|(?:cuda|hip)Malloc failed|erroroutofmemory", re.I)
# server/images.go CheckCapabilities: `<model> does not support tools` (the full name, unquoted) and
# routes.go: `"m" does not support thinking` / `chat` / `generate` (quoted as sent). Several missing
# capabilities are joined by newlines. `raw mode does not support template...` is not one.
_CAPABILITY = re.compile(r'(?:"(?P<quoted>[^"]+)"|(?P<bare>\S+)) does not support '
                         r"(?P<what>[a-z ]+(?:\n[a-z ]+)*)")
_BUSY = re.compile(r"server busy|maximum pending requests", re.I)  # 503, OLLAMA_MAX_QUEUE reached
_INPUT_TOO_LONG = re.compile(r"input length exceeds the context length", re.I)  # /api/embed, truncate false


# ----------------------------------------------------------------------------------- errors
class OllamaError(Exception):
    """Base of every failure the client reports; `exchange` is the recorded call, when one exists."""

    def __init__(self, message: str, exchange: "Exchange | None" = None):
        super().__init__(message)
        self.message = message
        self.exchange = exchange


class CannotConnect(OllamaError):
    """No TCP connection. `reason` is 'refused', 'dns' (name not resolved) or 'other'."""

    def __init__(self, message: str, reason: str, exchange: "Exchange | None" = None):
        super().__init__(message, exchange)
        self.reason = reason


class RequestTimeout(OllamaError):
    """`phase` is 'connect' (nothing answered in time) or 'read' (the server went silent)."""

    def __init__(self, message: str, phase: str, exchange: "Exchange | None" = None):
        super().__init__(message, exchange)
        self.phase = phase


class ServerError(OllamaError):
    """The server answered with an error status (`status`) or an error line (`status` 200)."""

    def __init__(self, message: str, status: int, exchange: "Exchange | None" = None):
        super().__init__(message, exchange)
        self.status = status


class ModelNotFound(ServerError):
    """Model not installed, in the current (`model 'x' not found`) or old message form."""

    def __init__(self, message: str, status: int, model: str, exchange: "Exchange | None" = None):
        super().__init__(message, status, exchange)
        self.model = model


class OutOfMemory(ServerError):
    """The model does not fit in this machine's memory."""


class CapabilityMissing(ServerError):
    """The model cannot do what was asked (`"m" does not support thinking`, `... tools`): `model` as
    the server named it, `capabilities` as /api/show names them (`tools`, `thinking`, `embedding`...)."""

    def __init__(self, message: str, status: int, model: str, capabilities: tuple[str, ...],
                 exchange: "Exchange | None" = None):
        super().__init__(message, status, exchange)
        self.model = model
        self.capabilities = capabilities


class ServerBusy(ServerError):
    """503 `server busy, please try again.  maximum pending requests exceeded` (OLLAMA_MAX_QUEUE)."""


class Forbidden(ServerError):
    """403 with no message: Ollama's own Host check (a server on 127.0.0.1 asked by another name,
    as through a proxy) or a browser Origin outside OLLAMA_ORIGINS. A 403 that says why (a JSON
    `error`) is an ordinary ServerError."""


class InputTooLong(ServerError):
    """/api/embed with `truncate: false` and a text longer than the model's context."""


class StreamError(ServerError):
    """An `{"error"}` line after the stream started (HTTP status stayed 200)."""


class MalformedResponse(OllamaError):
    """The answer is not what an Ollama server sends (not JSON, a blank line, too large)."""


class NotOllama(MalformedResponse):
    """Something answers at that address, but it is not an Ollama server (a wrong port)."""


class Redirected(OllamaError):
    """The server answered with a redirect. Ollama never redirects, and following one would send
    the request (a student's chat) to an address the allow-list never saw: `location` is where
    it pointed, reported, never followed."""

    def __init__(self, message: str, location: str, exchange: "Exchange | None" = None):
        super().__init__(message, exchange)
        self.location = location


def server_error(message: str, status: int, exchange: "Exchange | None" = None,
                 in_stream: bool = False) -> ServerError:
    """The most specific error type for a server's error message."""
    if match := _NOT_FOUND.search(message):
        return ModelNotFound(message, status, match.group("model"), exchange)
    if (match := _CAPABILITY.search(message)) and (capabilities := _capabilities(match.group("what"))):
        return CapabilityMissing(message, status, match.group("quoted") or match.group("bare"),
                                 capabilities, exchange)
    if _OUT_OF_MEMORY.search(message):
        return OutOfMemory(message, status, exchange)
    if _BUSY.search(message):
        return ServerBusy(message, status, exchange)
    if _INPUT_TOO_LONG.search(message):
        return InputTooLong(message, status, exchange)
    if status == 403 and message.strip() in ("", "Forbidden"):  # no body: the reason phrase
        return Forbidden(message, status, exchange)
    return (StreamError if in_stream else ServerError)(message, status, exchange)


def _capabilities(words: str) -> tuple[str, ...]:
    """`tools` or `completion\ntools` -> the capabilities' names; () when none is one."""
    names = (CAPABILITY_IN_ERRORS.get(word.strip()) for word in words.split("\n"))
    return tuple(dict.fromkeys(name for name in names if name))


# ------------------------------------------------------------------------- recorded exchange
@dataclass
class Exchange:
    """One call as it went over the wire, for "Show the HTTP"."""

    method: str
    base_url: str
    path: str
    body: dict | None = None
    status: int | None = None
    content_type: str = ""
    lines: list[bytes] = field(default_factory=list)  # raw response lines (head and tail)
    line_count: int = 0
    tail: deque = field(default_factory=lambda: deque(maxlen=RECORDED_LINES // 4))
    started: float = field(default_factory=time.time)
    t0: float = field(default_factory=time.perf_counter)  # when the request was sent
    first_byte_s: float | None = None  # client-measured time to the first response line
    elapsed_s: float | None = None
    error: str | None = None

    @property
    def url(self) -> str:
        return self.base_url + self.path

    @property
    def streamed(self) -> bool:
        return "ndjson" in self.content_type

    def record(self, line: bytes) -> None:
        if self.line_count < RECORDED_LINES - self.tail.maxlen:
            self.lines.append(line)
        else:
            self.tail.append(line)
        self.line_count += 1

    def response_lines(self) -> tuple[list[str], int, list[str]]:
        """(first lines, number of lines left out, last lines), decoded."""
        head = [line.decode("utf-8", "replace") for line in self.lines]
        tail = [line.decode("utf-8", "replace") for line in self.tail]
        return head, self.line_count - len(head) - len(tail), tail

    def final_chunk(self) -> dict | None:
        """The last JSON object of the response (the one with the metrics), if any."""
        last = self.tail[-1] if self.tail else (self.lines[-1] if self.lines else None)
        if last is None:
            return None
        try:
            value = json.loads(last)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


# ------------------------------------------------------------------------------------ stream
class Stream:
    """An NDJSON response read lazily. Iterate for the chunks; `final` is the `done` chunk.

    Two texts accumulate as they arrive, each surviving an error so a page never loses a partial
    answer: the answer (`text`: `message.content` in chat, `response` in generate) and a thinking
    model's reasoning (`thinking`: `message.thinking` / `thinking`), which today's Ollama streams
    before the answer. Each has the client-measured time of its first piece, from the request.
    """

    def __init__(self, response: requests.Response, exchange: Exchange, chat: bool = False):
        self._response = response
        self.exchange = exchange
        self._chat = chat  # the text is in message.content (chat), else in response (generate)
        self.parts: list[str] = []
        self.thinking_parts: list[str] = []  # one per chunk that carried reasoning
        self.first_text_s: float | None = None  # request sent -> first answer piece
        self.first_thinking_s: float | None = None  # request sent -> first reasoning piece
        self.final: dict | None = None
        self.stopped = False
        self._yielded = 0

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def thinking(self) -> str:
        return "".join(self.thinking_parts)

    def __iter__(self) -> Iterator[dict]:
        # The hot loop of every generation: plain locals and no calls per line beyond json.loads
        # and dict lookups, so reading a stream costs about what `iter_lines` + `json.loads` costs
        # (make bench). A first piece's time is taken once, when its list is still empty.
        exchange, parts, thoughts, chat = self.exchange, self.parts, self.thinking_parts, self._chat
        head, tail = exchange.lines, exchange.tail
        head_room = RECORDED_LINES - tail.maxlen - len(head)
        count, pending = 0, b""
        loads, clock, t0 = json.loads, time.perf_counter, exchange.t0
        try:
            blocks = self._response.iter_content(chunk_size=65536)
            first = next(blocks, b"")
            exchange.first_byte_s = clock() - t0
            for block in itertools.chain((first,), blocks):
                if pending:
                    block = pending + block
                lines = block.split(b"\n")
                pending = lines.pop()  # b"" when the block ends with a newline, as Ollama's do
                if len(pending) > MAX_LINE_BYTES:
                    raise MalformedResponse(f"a response line exceeds {MAX_LINE_BYTES} bytes",
                                            exchange)
                for line in lines:
                    count += 1
                    if count <= head_room:
                        head.append(line)
                    else:
                        tail.append(line)
                    try:
                        chunk = loads(line)
                    except ValueError:
                        chunk = None
                    if type(chunk) is not dict:
                        raise _malformed(line, count, exchange)
                    if "error" in chunk:
                        raise server_error(str(chunk["error"]), exchange.status or 200, exchange,
                                           in_stream=True)
                    if chat:
                        message = chunk.get("message") or _NO_MESSAGE
                        text, thought = message.get("content"), message.get("thinking")
                    else:
                        text, thought = chunk.get("response"), chunk.get("thinking")
                    if thought:
                        if not thoughts:
                            self.first_thinking_s = clock() - t0
                        thoughts.append(thought)
                    if text:
                        if not parts:
                            self.first_text_s = clock() - t0
                        parts.append(text)
                    if chunk.get("done"):
                        self.final = chunk
                    yield chunk
            if pending.strip():
                raise MalformedResponse(f"line {count + 1} does not end with a newline", exchange)
        except Exception as exc:
            if self.stopped:
                return  # closed on purpose (Stop): what arrived is in self.parts
            if isinstance(exc, requests.exceptions.RequestException):
                raise _transport_error(exc, exchange) from None
            if isinstance(exc, OllamaError):
                exchange.error = exc.message
            raise
        finally:
            exchange.line_count += count
            exchange.elapsed_s = clock() - t0
            self._response.close()

    def texts(self) -> Iterator[str]:
        """Only the answer's text pieces: what a page draws as the answer arrives."""
        for _ in self:
            if len(self.parts) > self._yielded:
                self._yielded += 1
                yield self.parts[-1]

    def pieces(self) -> Iterator[tuple[str, str]]:
        """Reasoning and answer pieces in the order they arrive: ("thinking", text) or
        ("content", text). A chunk carrying both gives its reasoning first."""
        thoughts, parts = self.thinking_parts, self.parts
        thought_count = text_count = 0
        for _ in self:
            if len(thoughts) > thought_count:
                thought_count += 1
                yield "thinking", thoughts[-1]
            if len(parts) > text_count:
                text_count += 1
                yield "content", parts[-1]

    def close(self) -> None:
        """Stop reading: the server sees the connection close and stops generating.

        Called from another thread too (the run that Stop starts): shutting the socket down first
        wakes a read that is waiting for the next line, which may be minutes away while a big
        prompt is evaluated; closing alone would wait for that line."""
        self.stopped = True
        connection = getattr(self._response.raw, "connection", None)
        if (sock := getattr(connection, "sock", None)) is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the server or by an earlier close()
        self._response.close()


def _malformed(line: bytes, number: int, exchange: Exchange) -> MalformedResponse:
    if not line.strip():
        return MalformedResponse(f"blank line {number} in the stream", exchange)
    try:
        json.loads(line)
    except ValueError:
        return MalformedResponse(f"line {number} is not JSON: {line[:120]!r}", exchange)
    return MalformedResponse(f"line {number} is not a JSON object", exchange)


def _transport_error(exc: requests.exceptions.RequestException, exchange: Exchange) -> OllamaError:
    text = str(exc)
    exchange.error = text
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return RequestTimeout(text, "connect", exchange)
    if isinstance(exc, (requests.exceptions.ReadTimeout, requests.exceptions.Timeout)):
        return RequestTimeout(text, "read", exchange)
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = _root_cause(exc)
        if isinstance(reason, NameResolutionError):
            return CannotConnect(text, "dns", exchange)
        if isinstance(reason, ConnectionRefusedError) or "refused" in text.lower():
            return CannotConnect(text, "refused", exchange)
        if isinstance(reason, (ReadTimeoutError, TimeoutError)):
            return RequestTimeout(text, "read", exchange)
        return CannotConnect(text, "other", exchange)
    return MalformedResponse(text, exchange)


def _root_cause(exc: BaseException) -> BaseException | None:
    """The most specific cause below requests' and urllib3's wrappers (MaxRetryError.reason...)."""
    seen = exc
    for _ in range(8):
        nested = getattr(seen, "reason", None) or (seen.args[0] if seen.args else None)
        if isinstance(nested, NameResolutionError):
            return nested
        if not isinstance(nested, BaseException):
            nested = seen.__cause__ or seen.__context__
        if nested is None or nested is seen:
            return seen
        seen = nested
    return seen


# ------------------------------------------------------------------------------------ client
@dataclass
class ServerStatus:
    """What the sidebar badge and the Server page show."""

    url: str
    reachable: bool
    version: str | None = None
    latency_ms: float | None = None
    builtin: dict | None = None  # the built-in server describes itself in /api/version
    error: OllamaError | None = None
    exchange: "Exchange | None" = None  # the /api/version call (or the call that failed)


class OllamaClient:
    def __init__(self, base_url: str, connect_timeout: float = CONNECT_TIMEOUT,
                 read_timeout: float = READ_TIMEOUT, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.session = session or requests.Session()
        self.history: deque[Exchange] = deque(maxlen=HISTORY_SIZE)

    # -- plumbing
    def _send(self, method: str, path: str, body: dict | None,
              read_timeout: float | None = None, headers: dict | None = None
              ) -> tuple[requests.Response, Exchange]:
        exchange = Exchange(method, self.base_url, path, body)
        self.history.append(exchange)
        try:
            response = self.session.request(
                method, exchange.url, json=body, stream=True, headers=headers,
                timeout=(self.connect_timeout, read_timeout or self.read_timeout),
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            exchange.elapsed_s = time.perf_counter() - exchange.t0
            raise _transport_error(exc, exchange) from None
        exchange.status = response.status_code
        exchange.content_type = response.headers.get("Content-Type", "")
        exchange.elapsed_s = time.perf_counter() - exchange.t0
        if response.is_redirect:
            response.close()
            location = urljoin(exchange.url, response.headers.get("Location", ""))
            exchange.error = f"{response.status_code} redirect to {location}"
            raise Redirected(exchange.error, location, exchange)
        if response.status_code >= 400:
            raise self._status_error(response, exchange)
        return response, exchange

    def _status_error(self, response: requests.Response, exchange: Exchange) -> OllamaError:
        try:
            raw = response.raw.read(MAX_LINE_BYTES, decode_content=True) or b""
        except requests.exceptions.RequestException as exc:
            return _transport_error(exc, exchange)
        finally:
            response.close()
        exchange.record(raw)
        try:
            message = str(json.loads(raw)["error"])
        except (ValueError, KeyError, TypeError):
            message = raw.decode("utf-8", "replace").strip() or response.reason or ""
        exchange.error = message
        if response.status_code == 404 and not _NOT_FOUND.search(message) \
                and "page not found" in message:
            return NotOllama(f"{exchange.path}: 404 {message}", exchange)
        return server_error(message, response.status_code, exchange)

    def _json(self, method: str, path: str, body: dict | None = None,
              read_timeout: float | None = None) -> dict:
        """A call answered by one JSON object (or an empty body, returned as {})."""
        response, exchange = self._send(method, path, body, read_timeout=read_timeout)
        try:
            raw = response.raw.read(MAX_LINE_BYTES + 1, decode_content=True) or b""
        except requests.exceptions.RequestException as exc:
            raise _transport_error(exc, exchange) from None
        finally:
            response.close()
        exchange.first_byte_s = exchange.elapsed_s
        exchange.elapsed_s = time.perf_counter() - exchange.t0
        if len(raw) > MAX_LINE_BYTES:
            raise MalformedResponse(f"the response exceeds {MAX_LINE_BYTES} bytes", exchange)
        exchange.record(raw)
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise NotOllama(f"{path} did not answer JSON: {raw[:120]!r}", exchange) from None
        if not isinstance(value, dict):
            raise MalformedResponse(f"{path} did not answer a JSON object", exchange)
        if "error" in value:
            raise server_error(str(value["error"]), response.status_code, exchange)
        return value

    def _stream(self, path: str, body: dict) -> Stream:
        response, exchange = self._send("POST", path, body)
        return Stream(response, exchange, chat=path == "/api/chat")

    def _generation(self, path: str, body: dict, stream: bool) -> Stream | dict:
        body = {k: v for k, v in body.items() if v is not None}
        body["stream"] = stream
        if stream:
            return self._stream(path, body)
        return self._json("POST", path, body)

    @property
    def _status_timeout(self) -> float:
        return min(STATUS_READ_TIMEOUT, self.read_timeout)

    @property
    def last(self) -> Exchange | None:
        return self.history[-1] if self.history else None

    # -- endpoints (OLLAMA_API.md)
    def heartbeat(self) -> str:
        """`GET /`: 'Ollama is running'. Anything else means a wrong address."""
        response, exchange = self._send("GET", "/", None, read_timeout=self._status_timeout)
        try:
            text = response.raw.read(4096, decode_content=True).decode("utf-8", "replace")
        except requests.exceptions.RequestException as exc:
            raise _transport_error(exc, exchange) from None
        finally:
            response.close()
        exchange.record(text.encode())
        if "Ollama is running" not in text:
            raise NotOllama(f"GET / answered {text[:80]!r}", exchange)
        return text

    def version(self) -> dict:
        return self._json("GET", "/api/version", read_timeout=self._status_timeout)

    def tags(self) -> dict:
        return self._json("GET", "/api/tags", read_timeout=self._status_timeout)

    def ps(self) -> dict:
        return self._json("GET", "/api/ps", read_timeout=self._status_timeout)

    def show(self, model: str) -> dict:
        return self._json("POST", "/api/show", {"model": model})

    def delete(self, model: str) -> dict:
        return self._json("DELETE", "/api/delete", {"model": model})

    def copy(self, source: str, destination: str) -> dict:
        return self._json("POST", "/api/copy", {"source": source, "destination": destination})

    def embed(self, model: str, input: str | list[str], truncate: bool | None = None,
              dimensions: int | None = None) -> dict:
        """`/api/embed`. Unset `truncate` is Ollama's default (true: a text longer than the model's
        context is cut); `dimensions` keeps the first values of each vector, normalised again."""
        body = {"model": model, "input": input, "truncate": truncate, "dimensions": dimensions}
        return self._json("POST", "/api/embed", {k: v for k, v in body.items() if v is not None})

    def pull(self, model: str, insecure: bool = False) -> Stream:
        return self._stream("/api/pull", {"model": model, "insecure": insecure, "stream": True})

    def generate(self, model: str, prompt: str | None = None, *, stream: bool = True,
                 **fields: Any) -> Stream | dict:
        """`/api/generate`; `fields` are any other request fields (system, options, context...)."""
        return self._generation("/api/generate", {"model": model, "prompt": prompt, **fields},
                                stream)

    def chat(self, model: str, messages: list[dict], *, stream: bool = True,
             **fields: Any) -> Stream | dict:
        return self._generation("/api/chat", {"model": model, "messages": messages, **fields},
                                stream)

    def unload(self, model: str) -> dict:
        """Unload a model now, as `ollama stop` does: an empty generate with `keep_alive: 0`."""
        return self._json("POST", "/api/generate", {"model": model, "keep_alive": 0})

    def status(self) -> ServerStatus:
        """Reachable? Which version? How long does a round trip take? One call (/api/version) when
        all is well; `GET /` only when that fails, to tell a wrong port from a failing Ollama."""
        try:
            version = self.version()
        except (MalformedResponse, ServerError) as exc:
            try:
                self.heartbeat()  # 'Ollama is running': an Ollama whose /api/version failed
            except OllamaError as not_ollama:
                exc = not_ollama
            return ServerStatus(self.base_url, False, error=exc, exchange=exc.exchange)
        except OllamaError as exc:
            return ServerStatus(self.base_url, False, error=exc, exchange=exc.exchange)
        builtin = version.get("builtin")
        return ServerStatus(self.base_url, True, str(version.get("version", "?")),
                            self.last.elapsed_s * 1000, builtin if isinstance(builtin, dict) else None,
                            exchange=self.last)

    def cors_allows(self, origin: str) -> bool:
        """Would a browser page at `origin` be allowed to call this server (`OLLAMA_ORIGINS`)?"""
        try:
            response, _ = self._send("GET", "/api/version", None, read_timeout=self._status_timeout,
                                     headers={"Origin": origin})
        except ServerError as exc:
            if exc.status == 403:  # Ollama refuses origins outside OLLAMA_ORIGINS
                return False
            raise
        response.close()
        return response.headers.get("Access-Control-Allow-Origin") in ("*", origin)

    def create(self, model: str, from_: str, system: str | None = None, parameters: dict | None = None,
               template: str | None = None, license: str | list[str] | None = None) -> Stream:
        """`/api/create` in its JSON form: `model` made FROM the installed `from_`, with its own SYSTEM,
        PARAMETERs (typed as request options), TEMPLATE and LICENSE; unset fields keep the source's.
        The status lines stream like a pull's and end in `success`."""
        body = {"model": model, "from": from_, "system": system, "parameters": parameters,
                "template": template, "license": license}
        return self._stream("/api/create", {**{k: v for k, v in body.items() if v is not None}, "stream": True})
