"""Parallel slots with batched decoding (issue 13, finding 7), over real HTTP.

Before: one generation at a time, so every test here failed (a second stream got its first token
only after the first had finished). Batching may change a seeded answer, so these tests check what
must hold for each request: a complete answer, its own num_predict, stop strings and grammar.
"""
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
SHORT = {"model": MODEL_NAME, "prompt": "Hola", "stream": False, "options": {"num_predict": 2}}


@pytest.fixture(scope="module")
def four_slots(tmp_path_factory, builtin_store):
    server = start_builtin_server(tmp_path_factory.mktemp("builtin-parallel") / "server.log", "--parallel", "4")
    yield server
    server.stop()


def wait_for_log(server, pattern: str, start: int, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while not re.search(pattern, log := server.log.read_text()[start:]):
        assert time.monotonic() < deadline, (pattern, server.log_tail())
        time.sleep(0.05)
    return log


class Stream:
    """A streamed generate read line by line on a raw socket, so a test can stop reading or leave."""

    def __init__(self, server, body: dict):
        payload = json.dumps(body).encode()
        host, port = server.url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=300)
        self.sock.sendall(b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s"
                          % (len(payload), payload))
        self.buffer = b""
        self.lines: list[dict] = []

    def read_until(self, count: int) -> None:
        """Read until `count` token lines (or the final one) have arrived."""
        while len(self.lines) < count and not (self.lines and self.lines[-1]["done"]):
            data = self.sock.recv(65536)
            assert data, "the server closed the stream"
            *complete, self.buffer = (self.buffer + data).split(b"\n")
            # chunked encoding: a size line, then the NDJSON line
            self.lines += [json.loads(line) for line in complete if line.startswith(b"{")]

    def close(self) -> None:
        self.sock.close()


def run_streams(server, bodies: list[dict]) -> list[dict]:
    """Send the bodies at once (streamed); each result has the answer, its final line and timings."""
    started = time.monotonic()
    results: list[dict] = [{} for _ in bodies]

    def ask(i: int) -> None:
        with requests.post(server.url + "/api/generate", json={"model": MODEL_NAME, **bodies[i]},
                           stream=True, timeout=600) as response:
            assert response.status_code == 200, response.text
            text = ""
            for line in response.iter_lines():
                chunk = json.loads(line)
                results[i].setdefault("first", time.monotonic() - started)
                text += chunk.get("response", "")
                if chunk["done"]:
                    results[i].update(end=time.monotonic() - started, text=text, final=chunk)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all("final" in result for result in results), results
    return results


def test_four_streams_progress_together(four_slots):
    options = {"num_predict": 16, "temperature": 0}
    results = run_streams(four_slots, [{"prompt": COUNTING, "options": options}] * 4)
    first_done = min(r["end"] for r in results)
    assert all(r["first"] < first_done for r in results)  # nobody waited for another to finish
    for result in results:
        assert result["final"]["done_reason"] == "length" and result["final"]["eval_count"] == 16
        assert result["text"].startswith(" 11, 12")  # a valid, complete answer in each slot


def test_stops_num_predict_and_grammars_stay_in_their_own_slot(four_slots):
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"]}
    stopped, counted, person, free = run_streams(four_slots, [
        {"prompt": COUNTING, "options": {"num_predict": 20, "temperature": 0, "stop": ["14"]}},
        {"prompt": COUNTING, "options": {"num_predict": 9, "temperature": 0}},
        {"prompt": "Person: ", "format": schema, "options": {"num_predict": 60, "seed": 1}},
        {"prompt": COUNTING, "options": {"num_predict": 24, "temperature": 0}},  # a digit is a token
    ])
    assert stopped["final"]["done_reason"] == "stop" and "14" not in stopped["text"]
    assert stopped["text"].startswith(" 11, 12, 13")
    assert counted["final"]["done_reason"] == "length" and counted["final"]["eval_count"] == 9
    assert person["final"]["done_reason"] == "stop"
    answer = json.loads(person["text"])
    assert isinstance(answer["name"], str) and isinstance(answer["age"], int)
    assert free["final"]["eval_count"] == 24 and "14" in free["text"]  # neither the stop nor the grammar


LONG = {"model": MODEL_NAME, "prompt": COUNTING, "options": {"num_predict": 1500, "temperature": 0}}


def test_a_fifth_request_queues_and_a_leaving_client_frees_its_slot(four_slots):
    start = len(four_slots.log.read_text())
    streams = [Stream(four_slots, LONG) for _ in range(4)]
    fifth: dict = {}
    try:
        for stream in streams:
            stream.read_until(1)
        waiter = threading.Thread(target=lambda: fifth.update(r=requests.post(
            four_slots.url + "/api/generate", json=SHORT, timeout=300)))
        waiter.start()
        wait_for_log(four_slots, r"request queued behind the running ones \(1 waiting\)", start)
        assert not fifth  # all four slots are busy
        streams[0].close()
        waiter.join(timeout=300)
        assert fifth["r"].status_code == 200 and fifth["r"].json()["eval_count"] == 2
        log = four_slots.log.read_text()[start:]
        assert "client disconnected: generation stopped after" in log
        for stream in streams[1:]:  # the others went on meanwhile, and still do
            seen = len(stream.lines)
            stream.read_until(seen + 3)
            assert not stream.lines[-1]["done"]
    finally:
        for stream in streams:
            stream.close()


def test_a_request_needing_another_context_waits_for_the_slots_then_reloads(four_slots):
    start = len(four_slots.log.read_text())
    running = Stream(four_slots, LONG)
    other: dict = {}
    try:
        running.read_until(1)
        waiter = threading.Thread(target=lambda: other.update(r=requests.post(
            four_slots.url + "/api/generate", json={**SHORT, "options": {"num_predict": 2, "num_ctx": 2048}},
            timeout=300)))
        waiter.start()
        wait_for_log(four_slots, r"request queued behind the running one \(1 waiting\)", start)
        running.read_until(len(running.lines) + 3)  # the running one is not disturbed
        assert not other
    finally:
        running.close()
    waiter.join(timeout=300)
    assert other["r"].status_code == 200 and other["r"].json()["eval_count"] == 2
    models = requests.get(four_slots.url + "/api/ps", timeout=10).json()["models"]
    assert [m["context_length"] for m in models] == [2048]
    assert re.search(r"loaded .* num_ctx=2048 x 4 slots", four_slots.log.read_text()[start:])


def test_ollama_num_parallel_sets_the_slots(tmp_path, builtin_store, monkeypatch):
    monkeypatch.setenv("OLLAMA_NUM_PARALLEL", "2")
    server = start_builtin_server(tmp_path / "server.log")
    try:
        assert requests.post(server.url + "/api/generate", json=SHORT, timeout=300).status_code == 200
        assert re.search(r"num_ctx=4096 x 2 slots", server.log.read_text())
    finally:
        server.stop()


def test_the_default_is_the_measured_one(monkeypatch):
    from lib.builtin_server import __main__ as main
    from lib.ollama_facts import BUILTIN_NUM_PARALLEL

    monkeypatch.delenv("OLLAMA_NUM_PARALLEL", raising=False)
    assert main._env_int("OLLAMA_NUM_PARALLEL", BUILTIN_NUM_PARALLEL) == BUILTIN_NUM_PARALLEL == 4
