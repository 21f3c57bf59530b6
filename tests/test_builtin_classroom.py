"""The built-in server shared by a class (issue 13), over real HTTP: web pages cannot drive it,
malformed input is a 4xx JSON error, a queue of 512, clients that left cost nothing, big prompts are
refused before the slot, and a client that stops reading is dropped.

Each test here failed on the server before these changes (noted per test)."""
from __future__ import annotations

import json
import re
import socket
import threading
import time

import pytest
import requests

from lib.builtin_server import BASE_MODEL as MODEL_NAME
from tests.plugins.builtin import start_builtin_server

pytestmark = pytest.mark.builtin

COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"
TINY = {"model": MODEL_NAME, "prompt": "Hola", "stream": False, "options": {"num_predict": 2}}


def raw_request(server, data: bytes, timeout: float = 60) -> bytes:
    """Send raw bytes; return everything the server answers until it closes or goes quiet."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
            if b"\r\n\r\n" in received:
                head, _, body = received.partition(b"\r\n\r\n")
                match = re.search(rb"content-length: *(\d+)", head, re.I)
                if match and len(body) >= int(match.group(1)):
                    break
    return received


def status_and_json(received: bytes) -> tuple[int, dict]:
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), received[:300]
    return int(head.split(b" ")[1]), json.loads(body)


# --- 1. web pages cannot drive it (before: 200, 200 and 405) ---------------------------------------

@pytest.mark.parametrize("host,status", [
    ("evil.example", 403), ("evil.example:11435", 403), ("localhost", 200), ("localhost:9999", 200),
    ("127.0.0.1:1", 200), ("[::1]:11435", 200), ("app.localhost", 200)])
def test_host_is_checked_when_bound_to_loopback(builtin_server, host, status):
    response = requests.get(builtin_server.url + "/api/tags", headers={"Host": host}, timeout=10)
    assert response.status_code == status


def test_a_foreign_origin_cannot_generate_even_with_text_plain(builtin_server):
    before = builtin_server.log.read_text().count("| 200 |")
    body = json.dumps(TINY)
    for origin in ("http://evil.example", "null", "http://localhost.evil.example"):
        refused = requests.post(builtin_server.url + "/api/generate", data=body, timeout=30,
                                headers={"Content-Type": "text/plain", "Origin": origin})
        assert refused.status_code == 403, origin
        assert "Access-Control-Allow-Origin" not in refused.headers
    assert builtin_server.log.read_text().count("| 200 |") == before  # nothing ran
    for origin in ("http://localhost:8501", "http://127.0.0.1", "https://0.0.0.0:3000", "app://obsidian.md",
                   "vscode-webview://abc"):
        allowed = requests.post(builtin_server.url + "/api/generate", data=body, timeout=60,
                                headers={"Content-Type": "text/plain", "Origin": origin})
        assert allowed.status_code == 200, origin
        assert allowed.headers["Access-Control-Allow-Origin"] == origin
    assert requests.post(builtin_server.url + "/api/generate", json=TINY, timeout=60).status_code == 200  # no Origin


def test_cors_preflight_is_204_for_allowed_origins_only(builtin_server):
    headers = {"Origin": "http://localhost:8501", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}
    preflight = requests.options(builtin_server.url + "/api/chat", headers=headers, timeout=10)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:8501"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"].split(",")
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"].split(",")
    evil = requests.options(builtin_server.url + "/api/chat", timeout=10,
                            headers={**headers, "Origin": "http://evil.example"})
    assert evil.status_code == 403


def test_ollama_origins_adds_origins(tmp_path, builtin_store, monkeypatch):
    monkeypatch.setenv("OLLAMA_ORIGINS", "'https://course.example, http://*.lab.example'")
    server = start_builtin_server(tmp_path / "server.log")
    try:
        for origin, status in (("https://course.example", 200), ("http://a.lab.example", 200),
                               ("http://localhost:8501", 200), ("http://evil.example", 403)):
            response = requests.get(server.url + "/api/version", headers={"Origin": origin}, timeout=10)
            assert response.status_code == status, origin
    finally:
        server.stop()


# --- 2. malformed input: a 4xx JSON error, never 500, never HTML ------------------------------------

def test_deeply_nested_json_is_400_not_500(builtin_server):
    # before: 500 RecursionError
    for depth in (493, 5000):
        body = '{"model": "%s", "prompt": "hi", "format": %s1%s}' % (MODEL_NAME, "[" * depth, "]" * depth)
        response = requests.post(builtin_server.url + "/api/generate", data=body, timeout=30)
        assert response.status_code == 400, (depth, response.text[:200])
        assert "depth" in response.json()["error"] or "recursion" in response.json()["error"]


@pytest.mark.parametrize("option", ["seed", "num_predict", "top_k", "num_ctx"])
def test_huge_numbers_in_options_are_400(builtin_server, option):
    body = '{"model": "%s", "prompt": "hi", "stream": false, "options": {"%s": 1e400}}' % (MODEL_NAME, option)
    response = requests.post(builtin_server.url + "/api/generate", data=body, timeout=30)
    assert (response.status_code, response.json()) == (400, {"error": f'option "{option}" must be of type integer'})


def post_head(length_header: str, extra: str = "") -> bytes:
    return (f"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n{length_header}\r\n{extra}\r\n").encode()


@pytest.mark.parametrize("size_line", [b"-1", b"zz", b"0x10", b"1" * 40, b""])
def test_bad_chunk_sizes_are_400(builtin_server, size_line):
    # before: "-1" read to EOF past the body cap
    received = raw_request(builtin_server, post_head("Transfer-Encoding: chunked") + size_line + b"\r\n" + b"x" * 1000)
    status, body = status_and_json(received)
    assert status == 400 and "chunk" in body["error"]


def test_the_body_cap_holds_for_chunked_bodies(builtin_server):
    received = raw_request(builtin_server, post_head("Transfer-Encoding: chunked") + b"%x\r\n" % (65 << 20))
    status, body = status_and_json(received)
    assert status == 413 and "too large" in body["error"]


@pytest.mark.parametrize("value", ["-1", "abc", "1e3", "+5"])
def test_a_bad_content_length_is_400_not_too_large(builtin_server, value):
    # before: -1 said "request body too large"
    status, body = status_and_json(raw_request(builtin_server, post_head(f"Content-Length: {value}")))
    assert (status, body) == (400, {"error": "invalid Content-Length header"})


def test_414_and_431_are_json(builtin_server):
    # before: Python's HTML error pages
    long_uri = raw_request(builtin_server, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    status, body = status_and_json(long_uri)
    assert status == 414 and body["error"]
    many = "".join(f"X-{i}: {i}\r\n" for i in range(150))
    too_many = raw_request(builtin_server, f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{many}\r\n".encode())
    status, body = status_and_json(too_many)
    assert status == 431 and body["error"]
    long_header = raw_request(builtin_server, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
    status, body = status_and_json(long_header)
    assert status == 431 and body["error"]
    assert requests.get(builtin_server.url + "/", timeout=5).text == "Ollama is running"


# --- servers of their own: short timeouts, a small queue -------------------------------------------

@pytest.fixture(scope="module")
def class_server(tmp_path_factory, builtin_store):
    server = start_builtin_server(tmp_path_factory.mktemp("builtin-class") / "server.log",
                                  "--max-queue", "2", "--parallel", "1", "--body-timeout", "1.5", "--send-timeout", "2")
    yield server
    server.stop()


def wait_for_log(server, text: str, timeout: float = 60, start: int = 0) -> str:
    deadline = time.monotonic() + timeout
    while text not in (log := server.log.read_text()[start:]):
        assert time.monotonic() < deadline, (text, server.log_tail())
        time.sleep(0.05)
    return log


def open_stream(server, body: dict, rcvbuf: int | None = None) -> socket.socket:
    """A raw streaming generate; returns once the first token has arrived."""
    payload = json.dumps(body).encode()
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(60)
    sock.connect((host, int(port)))
    sock.sendall(b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
    received = b""
    while b'"done":false' not in received:
        received += sock.recv(4096)
    return sock


def send_only(server, body: dict) -> socket.socket:
    payload = json.dumps(body).encode()
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    sock.sendall(b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
    return sock


LONG = {"model": MODEL_NAME, "prompt": COUNTING, "options": {"num_predict": 3000, "temperature": 0}}


def test_a_body_that_stalls_times_out(class_server):
    # before: waited on forever
    started = time.monotonic()
    received = raw_request(class_server, post_head("Content-Length: 100") + b'{"model": ', timeout=20)
    status, body = status_and_json(received)
    assert status == 408 and "not received within 1.5 s" in body["error"]
    assert time.monotonic() - started < 10


# --- 3. a queue of 512 (before: 4, and 15 of 20 students got 503) ------------------------------------

def test_twenty_students_at_once_all_get_answers(builtin_server):
    results = []

    def ask():
        body = {**TINY, "options": {"num_predict": 1}}
        results.append(requests.post(builtin_server.url + "/api/generate", json=body, timeout=300).status_code)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 20


def test_max_queue_default_is_ollamas_and_the_env_is_honoured(monkeypatch):
    from lib.builtin_server import __main__ as main
    from lib.ollama_facts import DEFAULT_MAX_QUEUE

    assert DEFAULT_MAX_QUEUE == 512
    monkeypatch.delenv("OLLAMA_MAX_QUEUE", raising=False)
    assert main._env_int("OLLAMA_MAX_QUEUE", DEFAULT_MAX_QUEUE) == 512
    monkeypatch.setenv("OLLAMA_MAX_QUEUE", "7")
    assert main._env_int("OLLAMA_MAX_QUEUE", DEFAULT_MAX_QUEUE) == 7


# --- 4. clients that left cost nothing ---------------------------------------------------------------

def test_queued_clients_that_left_are_dropped_and_free_their_places(class_server):
    # before: evaluated anyway, logged 200; and two gone clients filled the queue of 2: the live one got 503
    start = len(class_server.log.read_text())
    running = open_stream(class_server, LONG)
    try:
        gone = [send_only(class_server, {**LONG, "prompt": "palabra " * 2000}) for _ in range(2)]
        wait_for_log(class_server, "(2 waiting)", start=start)
        for sock in gone:
            sock.close()
        live = {}
        waiter = threading.Thread(target=lambda: live.update(r=requests.post(
            class_server.url + "/api/generate", json=TINY, timeout=120)))
        waiter.start()
        log = wait_for_log(class_server, "dropped before running", start=start)
    finally:
        running.close()
    waiter.join(timeout=60)
    assert live["r"].status_code == 200
    log = class_server.log.read_text()[start:]
    assert log.count("client disconnected while queued: request dropped before running") == 2
    assert len(re.findall(r"\| 499 \|", log)) >= 2  # logged as the client closed request, not 200
    assert "prompt_eval" not in log and "2001 tokens" not in log


def test_a_disconnect_is_noticed_during_prompt_evaluation(class_server):
    # before: the whole prompt was evaluated first
    options = {"num_predict": 5, "num_batch": 32, "num_ctx": 4096}
    warm = requests.post(class_server.url + "/api/generate", timeout=120,
                         json={**TINY, "options": options})  # loads the model with this num_batch
    assert warm.status_code == 200
    start = len(class_server.log.read_text())
    sock = send_only(class_server, {"model": MODEL_NAME, "prompt": "palabra " * 3000, "options": options})
    time.sleep(0.6)
    sock.close()
    log = wait_for_log(class_server, "client disconnected during prompt evaluation", start=start)
    evaluated, total = map(int, re.search(r"\((\d+) of (\d+) tokens evaluated\)", log).groups())
    assert evaluated < total


# --- 5. big prompts are checked before the slot --------------------------------------------------------

def test_prompts_that_cannot_fit_are_refused_while_another_student_generates(class_server):
    # before: tokenized inside the slot, after the running generation (and at +3 GB for 50 MB)
    running = open_stream(class_server, LONG)
    try:
        started = time.monotonic()
        huge = requests.post(class_server.url + "/api/generate", timeout=60, json={
            **TINY, "prompt": "palabra " * 1_000_000})  # 8 MB: over num_ctx x 128 bytes, never tokenized
        assert huge.status_code == 400 and "bytes long" in huge.json()["error"]
        long = requests.post(class_server.url + "/api/generate", timeout=60, json={
            **TINY, "prompt": "palabra " * 5000})  # 40 kB: tokenized (about 5000 tokens), outside the slot
        assert long.status_code == 400 and re.search(r"is 50\d\d tokens long", long.json()["error"])
        chat = requests.post(class_server.url + "/api/chat", timeout=60, json={
            "model": MODEL_NAME, "messages": [{"role": "user", "content": "palabra " * 1_000_000}]})
        assert chat.status_code == 400 and "bytes long" in chat.json()["error"]
        assert time.monotonic() - started < 10  # the running generation (3000 tokens) is far from done
    finally:
        running.close()


# --- 6. a client that stops reading is dropped --------------------------------------------------------

def test_a_client_that_stops_reading_is_dropped_and_frees_the_slot(class_server):
    # before: noticed only once the server's 64 kB send buffer was full too (about 600 more token lines:
    # 30 s to minutes on a busy machine), and the next student waited all that time
    start = len(class_server.log.read_text())
    stalled = open_stream(class_server, {**LONG, "options": {"num_predict": 4000, "temperature": 0}}, rcvbuf=4096)
    try:  # from here on it reads nothing, until the server has dropped it
        wait_for_log(class_server, "client stopped reading for 2 s", timeout=300, start=start)
        answer = requests.post(class_server.url + "/api/generate", json=TINY, timeout=120)
        assert answer.status_code == 200 and answer.json()["done"]
        received = b""
        while chunk := stalled.recv(65536):  # what the server wrote before it closed the connection
            received += chunk
    finally:
        stalled.close()
    # its 8 kB receive buffer (about 40 lines) plus what waited 2 s in the server's send queue
    assert 0 < received.count(b'"done":false') < 300
    assert b'"done":true' not in received
    log = class_server.log.read_text()[start:]
    assert "Traceback" not in log
