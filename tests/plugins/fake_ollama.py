"""A scriptable fake Ollama over real HTTP on 127.0.0.1, for faults a real server won't produce.

By default it replays the course's recorded responses (tests/fixtures, from a real Ollama 0.1.32
with gemma:2b and llava). A test scripts a route to inject a fault:

    fake.reply("POST", "/api/chat", status=500, body={"error": "boom"})
    fake.stream("POST", "/api/generate", lines=[...], delay=0.05)   # NDJSON, chunked, slow lines
    fake.hang("GET", "/api/version", seconds=5)                      # a slow server
    fake.raw("GET", "/", b"<html>", content_type="text/html")        # not an Ollama server

Every request is kept in `fake.requests` as (method, path, parsed JSON body) for assertions.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import pathlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"


def fixture_lines(name: str) -> list[str]:
    return (FIXTURES / f"{name}.ndjson").read_text(encoding="utf-8").splitlines()


def _details(family: str, size: str, quant: str = "Q4_0") -> dict:
    return {"parent_model": "", "format": "gguf", "family": family, "families": [family],
            "parameter_size": size, "quantization_level": quant}


TAGS = {"models": [
    {"name": "gemma:2b", "model": "gemma:2b", "modified_at": "2024-04-30T15:06:12.51818509Z",
     "size": 1678456656, "digest": "b50d6c999e592ae4f79acae23b4feaefbdfceaa7cd366df2610e3072c052a160",
     "details": _details("gemma", "3B")},
    {"name": "llava:latest", "model": "llava:latest", "modified_at": "2024-04-30T16:01:40.12Z",
     "size": 4733363377, "digest": "8dd30f6b0cb19f555f2c7a7ebda861449ea2cc76bf1f44e262931f45fc81d081",
     "details": _details("llama", "7B")},
]}

PS = {"models": [
    {"name": "gemma:2b", "model": "gemma:2b", "size": 2500000000, "size_vram": 1000000000,
     "digest": TAGS["models"][0]["digest"], "details": _details("gemma", "3B"),
     "expires_at": "2099-01-01T00:05:00.000000000Z", "context_length": 4096},
]}


def recorded_answers(*names: str, delay: float = 0.0) -> list[Script]:
    """The course's recorded answers (first line of each fixture), as whole replies for
    `FakeOllama.sequence`: one per request, in order."""
    return [Script(body=json.loads(fixture_lines(name)[0]), delay=delay) for name in names]


COURSE_ANSWERS = ("generate-unseeded-1", "generate-unseeded-2", "generate-seed123-1", "generate-seed123-2")


def many_models(count: int, version: str = "") -> dict:
    """/api/tags of a server with `count` models (113 KB at 300); `version` changes every digest, so
    a cache keyed by digest sees models it has never shown."""
    first = TAGS["models"][0]
    return {"models": [{**first, "name": f"model-{n:04d}:latest", "model": f"model-{n:04d}:latest",
                        "digest": hashlib.sha256(f"{version}-{n}".encode()).hexdigest()}
                       for n in range(count)]}


def show_body(model: str) -> dict:
    vision = model.startswith("llava")
    return {
        "license": "Gemma Terms of Use", "modelfile": f"FROM {model}\n", "parameters": "stop \"<end_of_turn>\"",
        "template": "<start_of_turn>user\n{{ .Prompt }}<end_of_turn>\n<start_of_turn>model\n",
        "details": _details("llama" if vision else "gemma", "7B" if vision else "3B"),
        "model_info": {"general.architecture": "llama" if vision else "gemma",
                       ("llama" if vision else "gemma") + ".context_length": 8192},
        "capabilities": ["completion", "vision"] if vision else ["completion"],
        "modified_at": "2024-04-30T15:06:12.51818509Z",
    }


@dataclass
class Script:
    status: int = 200
    body: object = None  # dict/list -> JSON; bytes -> raw; None -> empty
    content_type: str = "application/json"
    lines: list[str] | None = None  # NDJSON lines, sent one chunk each
    delay: float = 0.0  # seconds before each line (or before the body)
    close_after: int | None = None  # drop the connection after this many lines
    drop: bool = False  # close the connection without answering: a server that just died
    headers: dict = field(default_factory=dict)  # extra response headers (a redirect's Location)


@dataclass
class FakeOllama:
    url: str = ""
    scripts: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)
    allowed_origins: tuple = ("*",)  # like OLLAMA_ORIGINS: other browser origins get a 403
    stream_endings: list = field(default_factory=list)  # "complete" or "client closed", per stream

    def reply(self, method: str, path: str, status: int = 200, body: object = None,
              content_type: str = "application/json", delay: float = 0.0) -> None:
        self.scripts[(method, path)] = Script(status, body, content_type, delay=delay)

    def stream(self, method: str, path: str, lines: list[str], delay: float = 0.0,
               close_after: int | None = None) -> None:
        self.scripts[(method, path)] = Script(lines=lines, delay=delay, close_after=close_after,
                                              content_type="application/x-ndjson")

    def sequence(self, method: str, path: str, scripts: list[Script]) -> None:
        """One script per request, in order; once used up, the default behaviour again."""
        self.scripts[(method, path)] = list(scripts)

    def redirect(self, method: str, path: str, location: str, status: int = 302) -> None:
        """Answer with a redirect, as a proxy or another service in front of the address might."""
        self.scripts[(method, path)] = Script(status, b"", "text/plain", headers={"Location": location})

    def hang(self, method: str, path: str, seconds: float) -> None:
        self.reply(method, path, body={"version": "0.33.0"}, delay=seconds)

    def raw(self, method: str, path: str, body: bytes, content_type: str = "text/plain",
            status: int = 200) -> None:
        self.reply(method, path, status, body, content_type)

    def reset(self) -> None:
        self.scripts.clear()
        self.requests.clear()
        self.allowed_origins = ("*",)
        self.stream_endings.clear()

    def bodies(self, path: str) -> list:
        return [body for _, p, body in self.requests if p == path]

    # -- the default behaviour: a healthy server with the course's gemma:2b and llava
    def default(self, method: str, path: str, body: dict) -> Script:
        if path == "/" and method in ("GET", "HEAD"):
            return Script(body=b"Ollama is running", content_type="text/plain; charset=utf-8")
        if path == "/api/version":
            return Script(body={"version": "0.33.0"})
        if path == "/api/tags":
            return Script(body=TAGS)
        if path == "/api/ps":
            return Script(body=PS)
        model = body.get("model") or body.get("name") or ""
        known = {m["name"] for m in TAGS["models"]} | {"llava", "gemma:2b"}
        if path in ("/api/show", "/api/generate", "/api/chat", "/api/delete") and model not in known:
            return Script(404, {"error": f"model '{model}' not found"})
        if path == "/api/show":
            return Script(body=show_body(model))
        if path == "/api/delete":
            return Script(body=b"")
        if path == "/api/generate":
            if not body.get("prompt") and "keep_alive" in body:
                return Script(body={"model": model, "created_at": "2024-04-30T15:18:52.5Z",
                                    "response": "", "done": True, "done_reason": "unload"})
            name = "llava-describe" if model.startswith("llava") else "generate-stream"
            return self._recorded(name, body)
        if path == "/api/chat":
            return self._recorded("chat-stream", body)
        if path == "/api/pull":
            return Script(lines=fixture_lines("pull-gemma-2b"), content_type="application/x-ndjson")
        if path == "/api/copy":
            if body.get("source") not in known:
                return Script(404, {"error": f"model '{body.get('source')}' not found"})
            return Script(body=b"")
        if path == "/api/embed":
            inputs = body.get("input")
            count = len(inputs) if isinstance(inputs, list) else 1
            return Script(body={"model": model, "embeddings": [[0.1, -0.2, 0.3]] * count,
                                "total_duration": 14143917, "load_duration": 1019500,
                                "prompt_eval_count": 8 * count})
        return Script(404, b"404 page not found", "text/plain")

    @staticmethod
    def _recorded(name: str, body: dict) -> Script:
        lines = fixture_lines(name)
        if body.get("stream", True) is False:
            return Script(body=_collapse(lines))
        return Script(lines=lines, content_type="application/x-ndjson")


def _collapse(lines: list[str]) -> dict:
    """The non-streamed form of a stream: the last chunk with the text fields concatenated."""
    chunks = [json.loads(line) for line in lines]
    final = dict(chunks[-1])
    if "message" in final:
        final["message"] = {"role": "assistant",
                            "content": "".join(c["message"]["content"] for c in chunks)}
    else:
        final["response"] = "".join(c.get("response", "") for c in chunks)
    return final


def _handler(fake: FakeOllama):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def log_message(self, *args):  # keep test output clean
            pass

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {"_invalid": raw.decode("utf-8", "replace")}
            path = self.path.split("?")[0]
            fake.requests.append((self.command, path, body))
            origin = self.headers.get("Origin")
            if origin and "*" not in fake.allowed_origins and origin not in fake.allowed_origins:
                script = Script(403, b"", "text/plain")
            else:
                script = fake.scripts.get((self.command, path))
                if isinstance(script, list):
                    script = script.pop(0) if script else None
                script = script or fake.default(self.command, path, body)
            if script.drop:
                self.close_connection = True
                return
            if script.lines is not None:
                return self._stream(script)
            if script.delay:
                time.sleep(script.delay)
            payload = script.body if isinstance(script.body, bytes) else (
                b"" if script.body is None else json.dumps(script.body).encode())
            self.send_response(script.status)
            self.send_header("Content-Type", script.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in script.headers.items():
                self.send_header(name, value)
            if origin and script.status < 400:
                self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            if self.command != "HEAD":
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        def _stream(self, script: Script):
            self.send_response(script.status)
            self.send_header("Content-Type", script.content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for number, line in enumerate(script.lines):
                    if script.close_after is not None and number >= script.close_after:
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if script.delay:
                        time.sleep(script.delay)
                    data = line.encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                fake.stream_endings.append("complete")
            except (BrokenPipeError, ConnectionResetError):
                fake.stream_endings.append("client closed")  # a cancelled generation or pull

        do_GET = do_POST = do_DELETE = do_HEAD = _serve

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up early (timeout tests) are expected, not worth a traceback


@contextlib.contextmanager
def serve_fake_ollama():
    """The fake server on a free local port, for as long as the `with` lasts (benchmarks use it
    outside pytest; tests use the fixtures below)."""
    fake = FakeOllama()
    server = _Server(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def _fake_server():
    with serve_fake_ollama() as fake:
        yield fake


@pytest.fixture
def fake_ollama(_fake_server):
    """A fresh script on the shared fake server (one server for the session, reset per test)."""
    _fake_server.reset()
    yield _fake_server
    _fake_server.reset()


@pytest.fixture
def recorder():
    """A second fake server that only records: where a hostile server redirects to."""
    with serve_fake_ollama() as other:
        yield other


@pytest.fixture
def closed_port():
    """A local port where nothing listens: connection refused."""
    from tests.plugins.builtin import free_port
    return f"http://127.0.0.1:{free_port()}"
