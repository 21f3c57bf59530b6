"""The HTTP layer: Ollama's REST routes on the standard library's ThreadingHTTPServer.

Streams are NDJSON over chunked transfer encoding, one compact object per line, one socket write
per chunk (TCP_NODELAY), so a token reaches the client as soon as it is sampled.
"""
from __future__ import annotations

import datetime as dt
import importlib.metadata
import ipaddress
import json
import logging
import os
import re
import select
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from lib.builtin_server import BUNDLED_MODELS, DEFAULT_MODEL, OLLAMA_VERSION, SERVER_HEADER, SERVER_NAME
from lib.builtin_server import gotemplate, validation
from lib.builtin_server.engine import ClientGone, Engine, Final, Job
from lib.builtin_server.library import (INVALID_NAME, Library, Served, modelfile,
                                        parameters_text)
from lib.builtin_server.model import ModelUnavailable, cache_dir
from lib.builtin_server.store import Installed, Store
from lib.builtin_server.validation import ApiError, bad_request, field
from lib.ollama_facts import (BUILTIN_NUM_PARALLEL, CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_MAX_AGE,
                              DEFAULT_MAX_QUEUE, METRICS, ROLES,
                              allowed_origins, host_is_local, origin_allowed, parse_model_name)

log = logging.getLogger("builtin_server")

MAX_BODY = 64 << 20
NDJSON = "application/x-ndjson"
BODY_TIMEOUT = 30.0  # seconds to receive a whole request body
SEND_TIMEOUT = 30.0  # seconds a client may stop reading (without closing) before it is dropped
# A fixed send buffer per connection (the kernel doubles it): without one, autotuning lets a client
# that stopped reading park megabytes of answer in the kernel before the send timeout can start.
SEND_BUFFER = 32 << 10
try:  # the bytes a socket has sent but the client has not acknowledged (Linux's SIOCOUTQ)
    from fcntl import ioctl
    from termios import TIOCOUTQ
except ImportError:  # Windows: only the socket timeout, once the send buffer is full
    ioctl = TIOCOUTQ = None
_DIGITS = re.compile(rb"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")


def no_vision(name: str) -> str:
    return (f'"{name}" cannot read images: it is a text-only model without vision. Send images '
            "to a multimodal model on a real Ollama server instead, e.g. llava, gemma3:4b or moondream.")


def rfc3339(when: dt.datetime | None = None) -> str:
    when = when or dt.datetime.now(dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def not_found(name: str) -> ApiError:
    return ApiError(404, f"model '{name}' not found")


def _engine_version() -> str:
    try:
        return importlib.metadata.version("llama-cpp-python")  # == llama_cpp.__version__, no import
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def details(installed: Installed) -> dict:
    """/api/tags `details`, from the manifest's config blob (no GGUF read)."""
    config = installed.config()
    family = config.get("model_family", "")
    return {"parent_model": (installed.layer("application/vnd.ollama.image.model") or {}).get("from", ""),
            "format": config.get("model_format", "gguf"), "family": family,
            "families": config.get("model_families") or ([family] if family else None),
            "parameter_size": config.get("model_type", ""), "quantization_level": config.get("file_type", "")}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the listen backlog: a class connecting at once is not refused

    def __init__(self, address: tuple[str, int], *, max_queue: int = DEFAULT_MAX_QUEUE,
                 parallel: int = BUILTIN_NUM_PARALLEL, store: Store | None = None, origins: str | None = None,
                 body_timeout: float = BODY_TIMEOUT, send_timeout: float = SEND_TIMEOUT):
        self.store = store or Store(cache_dir())
        self.library = Library(self.store)
        self.engine = Engine(max_queue=max_queue, parallel=parallel)
        self.origins = allowed_origins(os.environ.get("OLLAMA_ORIGINS") if origins is None else origins)
        self.body_timeout = body_timeout
        self.send_timeout = send_timeout
        super().__init__(address, Handler)
        try:  # Ollama checks Host only when bound to loopback (DNS-rebinding protection)
            self.check_host = ipaddress.ip_address(self.server_address[0]).is_loopback
        except ValueError:
            self.check_host = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection reset or a timeout is the client's doing: one log line, no traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            log.info("%s connection ended: %s", client_address[0], type(exc).__name__)
        else:
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Server

    # --- plumbing ----------------------------------------------------------------------------------

    _extra_headers: list[tuple[str, str]] = []

    def setup(self) -> None:
        self.timeout = self.server.send_timeout  # every socket operation; the body has its own deadline
        super().setup()
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        self._unacked_after = 0  # unacknowledged bytes right after the last write
        self._stalled_since: float | None = None  # since when the client has acknowledged nothing

    def version_string(self) -> str:
        return SERVER_HEADER

    def end_headers(self) -> None:
        for name, value in self._extra_headers:
            self.send_header(name, value)
        super().end_headers()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (414, 431, 400 on a bad request line...) as JSON, not an HTML page."""
        text = message or self.responses.get(code, ("error",))[0]
        try:
            self.send_response(code, message)
            self.send_header("Connection", "close")
            body = _dumps({"error": text.lower() if message is None else text})
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass
        self.close_connection = True

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass  # one line per request is written by _dispatch, with its duration

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        started = time.perf_counter_ns()
        self._started = started
        self._status = 0
        self._streaming = False
        self._extra_headers = []
        path = urlsplit(self.path).path
        try:
            if self._refused():
                return
            if self.command == "OPTIONS":  # a CORS preflight, or any OPTIONS: as Ollama, 204
                self.close_connection = self.close_connection or bool(self.headers.get("Content-Length"))
                self._send(204, "text/plain; charset=utf-8", b"")
                return
            self._body = self._read_body()  # always consumed, so the connection can be reused
            methods = ROUTES.get(path)
            if methods is None:
                self._send_text(404, "404 page not found")
            elif self.command not in methods:
                self._send_text(405, "405 method not allowed", allow=", ".join(sorted(methods)))
            else:
                methods[self.command](self)
        except ApiError as exc:
            self._fail(exc.status, exc.message)
        except ClientGone:
            self.close_connection = True
            self._status = self._status or 499  # nginx's "client closed request", for the log line
        except ModelUnavailable as exc:
            self._fail(500, str(exc))
        except Exception as exc:  # a bug: log the traceback, answer an error, keep serving
            log.exception("unhandled error on %s %s", self.command, path)
            self._fail(500, f"internal error: {type(exc).__name__}: {exc}")
        elapsed = (time.perf_counter_ns() - started) / 1e6
        log.info("| %3d | %10.3fms | %15s | %-7s \"%s\"", self._status, elapsed, self.client_address[0],
                 self.command, path)

    def _refused(self) -> bool:
        """Web pages cannot drive the server: 403 for a foreign Origin, or (bound to loopback) Host.

        Requests without Origin (the dashboard's server side, curl, the ollama client) need nothing.
        Allowed origins get CORS headers; a preflight gets the allowed methods and headers.
        """
        origin = self.headers.get("Origin")
        host = self.headers.get("Host") or ""
        if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
            if not origin_allowed(origin, self.server.origins):
                log.warning("refused a request from origin %r (not in OLLAMA_ORIGINS)", origin[:200])
                self.close_connection = True
                self._send(403, "text/plain; charset=utf-8", b"")
                return True
            self._extra_headers.append(("Access-Control-Allow-Origin", origin))
            self._extra_headers.append(("Vary", "Origin"))
            if self.command == "OPTIONS":
                self._extra_headers += [("Access-Control-Allow-Methods", ",".join(CORS_ALLOW_METHODS)),
                                        ("Access-Control-Allow-Headers", ",".join(CORS_ALLOW_HEADERS)),
                                        ("Access-Control-Max-Age", str(CORS_MAX_AGE))]
        if self.server.check_host and not host_is_local(_host_name(host)):
            log.warning("refused a request for host %r (bound to loopback: local names only)", host[:200])
            self._extra_headers = []
            self.close_connection = True
            self._send(403, "text/plain; charset=utf-8", b"")
            return True
        return False

    def _fail(self, status: int, message: str) -> None:
        try:
            if self._streaming:  # headers are out: Ollama ends the stream with an error line
                self._write_line({"error": message})
                self._end_stream()
            else:
                self._send_json(status, {"error": message})
        except ClientGone:
            self.close_connection = True

    def _read_body(self) -> bytes:
        """The whole body within the server's body_timeout (a body that stalls gets 408), at most MAX_BODY."""
        self._deadline = time.monotonic() + self.server.body_timeout
        try:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return self._read_chunked()
            raw = (self.headers.get("Content-Length") or "0").strip().encode()
            if not _DIGITS.fullmatch(raw):
                self.close_connection = True
                raise bad_request("invalid Content-Length header")
            length = int(raw)
            if length > MAX_BODY:
                self.close_connection = True
                raise ApiError(413, f"request body too large (limit {MAX_BODY} bytes)")
            return self._read_exactly(length)
        except TimeoutError:
            self.close_connection = True
            raise ApiError(408, f"request body not received within {self.server.body_timeout:g} s") from None
        finally:
            self.connection.settimeout(self.server.send_timeout)

    def _time_left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError()
        self.connection.settimeout(left)
        return left

    def _read_exactly(self, length: int) -> bytes:
        data = bytearray()
        while len(data) < length:
            self._time_left()
            piece = self.rfile.read1(min(length - len(data), 1 << 20))
            if not piece:
                self.close_connection = True
                raise ClientGone()
            data += piece
        return bytes(data)

    def _read_line(self) -> bytes:
        self._time_left()
        line = self.rfile.readline(1024)
        if not line:
            self.close_connection = True
            raise ClientGone()
        return line

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self._read_line().split(b";")[0].strip()
            if not _HEX.fullmatch(line):  # "-1", "0x10", garbage or an endless size line
                self.close_connection = True
                raise bad_request("invalid chunked request body: bad chunk size")
            size = int(line, 16)
            if size == 0:
                while self._read_line().strip():  # trailers
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY:
                self.close_connection = True
                raise ApiError(413, f"request body too large (limit {MAX_BODY} bytes)")
            body += self._read_exactly(size)
            if self._read_line().strip():
                self.close_connection = True
                raise bad_request("invalid chunked request body: missing CRLF after a chunk")

    def _json_body(self, go_type: str) -> dict:
        return validation.parse_body(self._body, go_type)

    def _unacked(self) -> int | None:
        if ioctl is None:
            return None
        try:
            return int.from_bytes(ioctl(self.connection.fileno(), TIOCOUTQ, bytes(4)), sys.byteorder, signed=True)
        except OSError:
            return None

    def _check_reading(self) -> None:
        """Drop a client that has acknowledged nothing for send_timeout seconds while data waits for it.

        The socket timeout alone starts only once the send buffer is full, which a slow stream of small
        token lines takes minutes to fill on a busy machine; the kernel's count of unacknowledged bytes
        shows a client that stopped reading as soon as its own receive buffer is full.
        """
        unacked = self._unacked()
        if unacked is None:
            return
        if unacked == 0 or unacked < self._unacked_after:  # the client took something since the last write
            self._stalled_since = None
        elif self._stalled_since is None:
            self._stalled_since = time.monotonic()
        elif time.monotonic() - self._stalled_since >= self.server.send_timeout:
            self._drop_stalled(unacked)

    def _drop_stalled(self, unacked: int | None) -> None:
        log.info("client stopped reading for %g s (%s bytes unread): dropped", self.server.send_timeout,
                 "?" if unacked is None else unacked)
        self.close_connection = True
        raise ClientGone()

    def _write(self, data: bytes) -> None:
        self._check_reading()
        try:
            self.wfile.write(data)
        except TimeoutError:
            self._drop_stalled(self._unacked())
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            raise ClientGone() from exc
        self._unacked_after = self._unacked() or 0

    def _send(self, status: int, content_type: str, data: bytes, **headers: str) -> None:
        self._status = status
        try:
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-").title(), value)
            self.end_headers()
        except OSError as exc:
            raise ClientGone() from exc
        if self.command != "HEAD" and status != 204:
            self._write(data)

    def _send_text(self, status: int, text: str, **headers: str) -> None:
        self._send(status, "text/plain; charset=utf-8", text.encode(), **headers)

    def _send_json(self, status: int, obj: Any) -> None:
        self._send(status, "application/json; charset=utf-8", _dumps(obj))

    def _start_stream(self) -> None:
        self._status = 200
        self._chunked = self.request_version != "HTTP/1.0"
        try:
            self.send_response(200)
            self.send_header("Content-Type", NDJSON)
            if self._chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.close_connection = True
            self.end_headers()
        except OSError as exc:
            raise ClientGone() from exc
        self._streaming = True

    def _write_line(self, obj: Any) -> None:
        data = _dumps(obj) + b"\n"
        self._write(b"%x\r\n%s\r\n" % (len(data), data) if self._chunked else data)

    def _end_stream(self) -> None:
        if self._chunked:
            self._write(b"0\r\n\r\n")
        self._streaming = False

    def _stream(self, lines: Iterable[Any]) -> None:
        self._start_stream()
        for obj in lines:
            self._write_line(obj)
        self._end_stream()

    def _client_gone(self) -> bool:
        """True once the client has closed its end (checked between tokens, without blocking; the
        slot scheduler's thread calls it too)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):  # ValueError: the socket is closed already
            return True

    # --- simple routes -----------------------------------------------------------------------------

    def root(self) -> None:
        self._send_text(200, "Ollama is running")

    def version(self) -> None:
        self._send_json(200, {"version": OLLAMA_VERSION, "builtin": {
            "name": SERVER_NAME, "engine": "llama.cpp", "engine_version": _engine_version(),
            "model": DEFAULT_MODEL, "models": list(BUNDLED_MODELS)}})

    def tags(self) -> None:
        self._send_json(200, {"models": [
            {"name": m.display, "model": m.display, "modified_at": rfc3339(m.modified_at), "size": m.size,
             "digest": m.digest, "details": details(m)} for m in self.server.store.list()]})

    def ps(self) -> None:
        running = self.server.engine.running()
        models = []
        if running:
            model: Served = running["model"]
            models.append({"name": model.name, "model": model.name, "size": running["size"], "digest": model.digest,
                           "details": model.details(), "expires_at": rfc3339(running["expires_at"]),
                           "size_vram": 0, "context_length": running["context_length"]})
        self._send_json(200, {"models": models})

    def _served(self, name: str) -> Served:
        served = self.server.library.resolve(name)
        if served is None:
            raise not_found(name)
        return served

    def show(self) -> None:
        served = self._served(validation.model_name(self._json_body("api.ShowRequest"), "ShowRequest"))
        reply = {
            "license": "\n".join(served.licenses),
            "modelfile": modelfile(served),
            "parameters": parameters_text(served.parameters),
            "template": served.template.source,
        }
        if served.system:
            reply["system"] = served.system
        if served.bundle is not None:
            reply["description"] = served.bundle.description
        reply.update(details=served.details(), model_info=served.gguf.model_info(), capabilities=["completion"],
                     modified_at=rfc3339(served.installed.modified_at))
        self._send_json(200, reply)

    def delete(self) -> None:
        name = validation.model_name(self._json_body("api.DeleteRequest"), "DeleteRequest")
        if parse_model_name(name) is None:
            raise bad_request(f'name "{name}" is invalid')
        installed = self.server.store.find(name)
        if installed is None:
            raise not_found(name)
        model_layer = installed.layer("application/vnd.ollama.image.model") or {}
        blob = self.server.store.blob_path(model_layer["digest"]) if model_layer.get("digest") else None
        users = [m for m in self.server.store.list() if m.path != installed.path
                 and (m.layer("application/vnd.ollama.image.model") or {}).get("digest") == model_layer.get("digest")]
        # Unload it first, as Ollama does; a generation running on it ends with an error line.
        if self.server.engine.evict(lambda served: served.name.lower() == installed.display.lower()
                                    or (not users and served.gguf_path == blob)):
            log.info("deleting %s, which was generating", installed.display)
        removed = self.server.store.delete(installed)
        log.info("deleted %s (%d unused blob(s) removed)", installed.display, len(removed))
        self._send(200, "application/json; charset=utf-8", b"")

    def copy(self) -> None:
        body = self._json_body("api.CopyRequest")
        source = field(body, "CopyRequest", "source", "str") or ""
        destination = field(body, "CopyRequest", "destination", "str") or ""
        if parse_model_name(source) is None:
            raise bad_request(f'source "{source}" is invalid')
        target = parse_model_name(destination)
        if target is None:
            raise bad_request(f'destination "{destination}" is invalid')
        installed = self.server.store.find(source)
        if installed is None:
            raise ApiError(404, f'model "{source}" not found')
        self.server.store.copy(installed, target)
        self._send(200, "application/json; charset=utf-8", b"")

    def embed(self) -> None:
        name = validation.model_name(self._json_body("api.EmbedRequest"), "EmbedRequest")
        self._served(name)
        raise bad_request(f'"{name}" does not support embeddings')

    # --- pull and create: progress streams ---------------------------------------------------------

    def _progress(self, body: dict, go_type: str, work: Callable[[Callable[[dict], None]], None],
                  first: dict | None) -> None:
        """Stream `work`'s status lines (or answer only the last one with stream: false)."""
        stream = field(body, go_type, "stream", "bool")
        stream = True if stream is None else stream
        if not stream:
            work(lambda line: None)
            self._send_json(200, {"status": "success"})
            return
        self._start_stream()
        if first is not None:
            self._write_line(first)
        work(self._write_line)
        self._write_line({"status": "success"})
        self._end_stream()

    def pull(self) -> None:
        body = self._json_body("api.PullRequest")
        name = validation.model_name(body, "PullRequest")
        if parse_model_name(name) is None:
            raise bad_request(INVALID_NAME)
        self._progress(body, "PullRequest", lambda emit: self.server.library.pull(name, emit),
                       {"status": "pulling manifest"})

    def create(self) -> None:
        body = self._json_body("api.CreateRequest")
        request = self.server.library.check_create(body)
        self._progress(body, "CreateRequest", lambda emit: self.server.library.create(request, emit), None)

    # --- generate and chat -------------------------------------------------------------------------

    def generate(self) -> None:
        t = "GenerateRequest"
        body = self._json_body("api." + t)
        prompt = field(body, t, "prompt", "str") or ""
        system = field(body, t, "system", "str") or ""
        template = field(body, t, "template", "str") or ""
        raw = bool(field(body, t, "raw", "bool"))
        context = field(body, t, "context", "int_list") or []
        has_images = bool(validation.images(body.get("images"), t))
        common = self._common(body, t)
        served: Served = common["model"]
        if field(body, t, "suffix", "str"):
            raise bad_request(f'"{common["name"]}" does not support insert')
        if raw and (template or system or context):
            raise bad_request("raw mode does not support template, system, or context")
        if has_images:
            raise bad_request(no_vision(common["name"]))
        if not prompt:
            self._load_or_unload(common, chat=False)
            return
        # what cannot fit is refused before the template and the tokenizer see it
        self.server.engine.check_size(served, common["job"]["options"],
                                      len(prompt.encode()) + len(system.encode()), len(context))
        if raw:
            text = prompt
        else:
            try:
                chosen = gotemplate.check(template) if template else served.template
            except gotemplate.TemplateError as exc:
                raise bad_request(f"template error: {exc}") from None
            messages = [{"role": "system", "content": system or served.system}] if system or served.system else []
            text = gotemplate.render_prompt(chosen, [*messages, {"role": "user", "content": prompt}])
        self._run(Job(model=served, prompt=text, context=context, **common["job"]), common, chat=False)

    def chat(self) -> None:
        t = "ChatRequest"
        body = self._json_body("api." + t)
        messages = field(body, t, "messages", "list") or []
        has_images = False
        for message in messages:
            if not isinstance(message, dict):
                raise bad_request(f"json: cannot unmarshal {validation.json_kind(message)} into Go struct "
                                  f"field {t}.messages of type api.Message")
            role = field(message, "Message", "role", "str")
            field(message, "Message", "content", "str")
            has_images |= bool(validation.images(message.get("images"), "Message"))
            if role not in ROLES:
                raise bad_request(f"invalid message role {role!r}: expected one of {', '.join(ROLES)}")
        tools = field(body, t, "tools", "list")
        common = self._common(body, t)
        served: Served = common["model"]
        if tools:
            raise bad_request(f'"{common["name"]}" does not support tools')
        if has_images:
            raise bad_request(no_vision(common["name"]))
        if not messages:
            self._load_or_unload(common, chat=True)
            return
        self.server.engine.check_size(served, common["job"]["options"], sum(
            len((m.get("content") or "").encode()) for m in messages))
        if messages[0]["role"] != "system" and served.system:  # the model's SYSTEM, as Ollama adds it
            messages = [{"role": "system", "content": served.system}, *messages]
        try:
            text = gotemplate.render_prompt(served.template, messages)
        except gotemplate.TemplateError as exc:
            raise ApiError(500, f"template error: {exc}") from None
        self._run(Job(model=served, prompt=text, **common["job"]), common, chat=True)

    def _common(self, body: dict, t: str) -> dict:
        """The fields generate and chat share, checked in Ollama's order (types, model, options)."""
        stream = field(body, t, "stream", "bool")
        keep_alive = validation.keep_alive(body.get("keep_alive"))
        think = body.get("think")
        if think is not None and not isinstance(think, (bool, str)):
            raise bad_request(f"json: cannot unmarshal {validation.json_kind(think)} into Go struct field "
                              f"{t}.think of type api.ThinkValue")
        name = validation.model_name(body, t)
        served = self._served(name)
        options = validation.options(body.get("options"), served.parameters)
        output_format = validation.output_format(body.get("format"))
        if think not in (None, False, "", "false"):
            raise bad_request(f'"{name}" does not support thinking')
        return {"name": name, "model": served, "stream": True if stream is None else stream,
                "job": {"options": options, "keep_alive": keep_alive, "started_ns": self._started,
                        "output_format": output_format}}

    def _load_or_unload(self, common: dict, chat: bool) -> None:
        job = common["job"]
        load_ns = self.server.engine.load(common["model"], job["options"], job["keep_alive"], self._started)
        reply = _reply(common["name"], chat, "")
        reply.update(done=True, done_reason="load" if job["keep_alive"] > 0 else "unload",
                     total_duration=time.perf_counter_ns() - self._started, load_duration=load_ns)
        self._send_json(200, reply)

    def _run(self, job: Job, common: dict, chat: bool) -> None:
        name, stream = common["name"], common["stream"]
        self.server.engine.tokenize(job)  # before the slot: a long prompt does not hold up the others
        events = self.server.engine.generate(job, self._client_gone)
        try:
            first = next(events, None)  # errors (busy, prompt too long) surface here, before any header
            if first is None:
                raise ClientGone()
            if stream:
                self._start_stream()
            pieces: list[str] = []
            event: str | Final | None = first
            while event is not None:
                if isinstance(event, Final):
                    reply = _final(name, chat, "".join(pieces) if not stream else "", event)
                    if stream:
                        self._write_line(reply)
                        self._end_stream()
                    else:
                        self._send_json(200, reply)
                    return
                if stream:
                    self._write_line({**_reply(name, chat, event), "done": False})
                else:
                    pieces.append(event)
                event = next(events, None)
            raise ClientGone()  # the engine stopped because the client went away
        finally:
            events.close()


def _host_name(host: str) -> str:
    """The Host header without its port: `[::1]:11435` -> `::1`, `localhost:80` -> `localhost`."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, colon, port = host.rpartition(":")
    return name if colon and ":" not in name else host


def _reply(name: str, chat: bool, text: str) -> dict:
    reply: dict[str, Any] = {"model": name, "created_at": rfc3339()}
    if chat:
        reply["message"] = {"role": "assistant", "content": text}
    else:
        reply["response"] = text
    return reply


def _final(name: str, chat: bool, text: str, final: Final) -> dict:
    reply = _reply(name, chat, text)
    reply.update(done=True, done_reason=final.done_reason)
    if not chat:
        reply["context"] = final.context
    reply.update({metric: getattr(final, metric) for metric in METRICS})
    return reply


def _dumps(obj: Any) -> bytes:
    # Go's encoder escapes U+2028 and U+2029; so do we, for clients that split lines on them
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode("utf-8")


Route = Callable[[Handler], None]
ROUTES: dict[str, dict[str, Route]] = {
    "/": {"GET": Handler.root, "HEAD": Handler.root},
    "/api/version": {"GET": Handler.version, "HEAD": Handler.version},
    "/api/tags": {"GET": Handler.tags, "HEAD": Handler.tags},
    "/api/ps": {"GET": Handler.ps, "HEAD": Handler.ps},
    "/api/show": {"POST": Handler.show},
    "/api/pull": {"POST": Handler.pull},
    "/api/delete": {"DELETE": Handler.delete},
    "/api/copy": {"POST": Handler.copy},
    "/api/create": {"POST": Handler.create},
    "/api/embed": {"POST": Handler.embed},
    "/api/embeddings": {"POST": Handler.embed},
    "/api/generate": {"POST": Handler.generate},
    "/api/chat": {"POST": Handler.chat},
}
