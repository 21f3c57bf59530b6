"""Thousands of random bodies: always a 2xx or a 4xx `{"error"}`, never a 500, and the server keeps serving.

Bodies that happen to be valid run real (tiny) generations: num_predict is always forced to 0-2,
and the runner options that reload the model only take a few values, to keep the run short.
"""
from __future__ import annotations

import json
import threading

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.builtin_server import BASE_MODEL as MODEL_NAME
from lib.builtin_server import BUNDLED_MODELS, INSTRUCT_MODEL
from lib.ollama_facts import same_model

pytestmark = pytest.mark.builtin

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
ANY_TEXT = st.text(max_size=60)
SHORT_TEXT = st.text(max_size=16)  # what valid bodies send to the model: random Unicode is ~1 token a character
HUGE = st.sampled_from([10**400, -(10**400), 1e308])  # beyond float64 / int64
OUR_MODEL = st.sampled_from([MODEL_NAME, MODEL_NAME.upper(), "library/" + MODEL_NAME, INSTRUCT_MODEL])
MODEL = OUR_MODEL | st.sampled_from(["llama3", "", "x" * 300]) | JSON
# Well-typed option values (edge values included); the runner options that reload the model only
# take values that do not, so a valid body costs one tiny generation.
TYPED_OPTIONS = st.fixed_dictionaries({}, optional={
    "temperature": st.floats(-2, 5) | HUGE, "top_k": st.integers(-10, 10**12) | HUGE, "top_p": st.floats(-1, 2),
    "min_p": st.floats(-1, 2), "typical_p": st.floats(0, 2), "seed": st.integers(-(2**70), 2**70) | HUGE,
    "repeat_penalty": st.floats(-2, 3), "repeat_last_n": st.integers(-5, 10**9) | HUGE,
    "presence_penalty": st.floats(-3, 3), "frequency_penalty": st.floats(-3, 3),
    "stop": st.lists(ANY_TEXT, max_size=3), "num_ctx": st.sampled_from([None, 4096]),
    "num_batch": st.sampled_from([None, 512]), "num_thread": st.sampled_from([None, 0, 2]),
    "num_keep": st.integers(-5, 5), "num_gpu": st.integers(-1, 99), "use_mmap": st.booleans(),
    "mirostat": JSON, "tfs_z": JSON, "unknown_option": JSON})
OPTIONS = TYPED_OPTIONS | st.dictionaries(st.sampled_from(["temperature", "top_k", "seed", "stop", "num_ctx", "x"]), JSON) | JSON
# Short keep_alives would unload the model between examples (a reload costs ~1 s): tested elsewhere.
KEEP_ALIVE = st.sampled_from([None, "5m", "1h", -1, 600, "-1m", 600.5, 10**400, 1e300, "9999999999999h"])
BAD_KEEP_ALIVE = st.sampled_from(["bogus", "300", "", "5x", True, [], {}, "1h-5m"])
IMAGES = st.lists(st.sampled_from(["", "AAAA", "data:image/png;base64,AAAA", "@@@", "QUJD"]) | JSON, max_size=2) | JSON
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant", "tool"]), "content": SHORT_TEXT})
ANY_MESSAGE = MESSAGE | st.fixed_dictionaries({}, optional={
    "role": st.sampled_from(["user", "wizard"]) | JSON, "content": ANY_TEXT | JSON, "images": IMAGES}) | JSON


def is_bundled(name) -> bool:
    return isinstance(name, str) and any(same_model(name, bundled) for bundled in BUNDLED_MODELS)


def bounded(body):
    """Valid-looking bodies must not generate for long: cap num_predict whatever was drawn."""
    if isinstance(body, dict) and isinstance(body.get("options"), dict):
        body["options"]["num_predict"] = len(json.dumps(body)) % 3
    elif isinstance(body, dict) and body.get("options") is None:
        body["options"] = {"num_predict": 1}
    return body


# Each endpoint gets well-typed bodies (that reach the model) and anything-goes bodies.
TYPED_COMMON = {"options": TYPED_OPTIONS, "stream": st.booleans(), "keep_alive": KEEP_ALIVE,
                "format": st.sampled_from(["", "json", {"type": "object"}, {"type": "string"}]),
                "think": st.sampled_from([False, None])}
ANY_COMMON = {"model": MODEL, "options": OPTIONS, "stream": st.booleans() | JSON,
              "keep_alive": KEEP_ALIVE | BAD_KEEP_ALIVE | JSON,
              "format": st.sampled_from(["", "json", "yaml", {"type": "nonsense"}]) | JSON,
              "think": st.booleans() | JSON}
GENERATE = (
    st.fixed_dictionaries({"model": OUR_MODEL, "prompt": SHORT_TEXT}, optional={
        **TYPED_COMMON, "system": SHORT_TEXT, "raw": st.booleans(), "context": st.lists(st.integers(0, 5000), max_size=5)})
    | st.fixed_dictionaries({}, optional={
        **ANY_COMMON, "prompt": ANY_TEXT | JSON, "system": ANY_TEXT | JSON, "raw": st.booleans() | JSON,
        "context": st.lists(st.integers(-5, 300000), max_size=5) | JSON, "images": IMAGES,
        "suffix": ANY_TEXT | JSON, "template": ANY_TEXT | JSON})
).map(bounded)
CHAT = (
    st.fixed_dictionaries({"model": OUR_MODEL, "messages": st.lists(MESSAGE, max_size=3)}, optional=TYPED_COMMON)
    | st.fixed_dictionaries({}, optional={**ANY_COMMON, "messages": st.lists(ANY_MESSAGE, max_size=3) | JSON,
                                          "tools": JSON})
).map(bounded)
SIMPLE = st.fixed_dictionaries({}, optional={
    "model": MODEL, "name": MODEL, "source": MODEL, "destination": MODEL, "stream": st.booleans() | JSON,
    "verbose": JSON, "input": JSON})
# The store's endpoints: created and copied models only ever get these names (removed at the end);
# delete and pull never name a bundled model (pulling one re-hashes it, deleting one is tested elsewhere).
FUZZ_NAMES = ("fuzz-a", "fuzz-b:v1")
NEW_NAME = (st.sampled_from(FUZZ_NAMES) | st.sampled_from(["", "bad name!", "a/b/c/d", "x" * 300])
            | JSON.filter(lambda v: not isinstance(v, str)))  # a random valid name would stay in the store
TEMPLATE = st.sampled_from(["{{ .Prompt }}", "{{ if .System }}", "{{ range .Messages }}{{ .Content }}{{ end }}",
                            "{{ .Nope }}", "{{ printf \"%s\" .Prompt }}", "{{- .System -}}{{ .Prompt }}"]) | ANY_TEXT | JSON
CREATE = st.fixed_dictionaries({"model": NEW_NAME}, optional={
    "from": st.sampled_from([INSTRUCT_MODEL, MODEL_NAME, "llama3", "fuzz-a", ""]) | JSON,
    "system": ANY_TEXT | JSON, "template": TEMPLATE, "license": ANY_TEXT | st.lists(ANY_TEXT, max_size=2) | JSON,
    "parameters": st.dictionaries(st.sampled_from(["temperature", "top_k", "stop", "num_ctx", "seed", "mirostat",
                                                   "sparkle"]), JSON, max_size=3) | JSON,
    "stream": st.booleans() | JSON, "files": JSON, "quantize": JSON})
COPY = st.fixed_dictionaries({}, optional={"source": MODEL | st.sampled_from(FUZZ_NAMES), "destination": NEW_NAME})
DELETE = st.fixed_dictionaries({}, optional={"model": NEW_NAME | st.sampled_from(["llama3"]), "name": NEW_NAME})
# Bodies for the paths of issue 13: nesting past Python's recursion, numbers beyond float64 in options.
DEEP = st.integers(1, 3000).map(lambda n: b'{"model":"%s","prompt":"a","format":%s1%s}' % (
    MODEL_NAME.encode(), b"[" * n, b"]" * n))
HUGE_OPTION = st.sampled_from(["seed", "num_predict", "top_k", "temperature", "num_ctx", "repeat_last_n"]).map(
    lambda name: b'{"model":"%s","prompt":"a","options":{"%s":1e400}}' % (MODEL_NAME.encode(), name.encode()))
RAW = st.binary(max_size=80) | st.text(max_size=80).map(str.encode) | JSON.map(lambda v: json.dumps(v).encode())

FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
# Valid generate and chat bodies run the model: fewer of those keep the file around a minute.
FUZZ_MODEL = settings(FUZZ, max_examples=300)


@pytest.fixture(scope="module")
def session(builtin_server):
    with requests.Session() as s:
        yield s


def check(response: requests.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"]
        return
    # split on "\n" only: str.splitlines would also cut at U+0085 or U+2028 inside a JSON string
    lines = [json.loads(line) for line in response.content.split(b"\n") if line]
    assert all(line for line in lines)
    if lines and "error" in lines[-1]:  # an error after the stream started (pull of an unknown model)
        assert lines[-1]["error"]


def send(session, url, method, path, body) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body)
    check(session.request(method, url + path, data=data, timeout=120))


@FUZZ_MODEL
@given(body=GENERATE)
def test_generate_bodies(builtin_server, session, body):
    send(session, builtin_server.url, "POST", "/api/generate", body)


@FUZZ_MODEL
@given(body=CHAT)
def test_chat_bodies(builtin_server, session, body):
    send(session, builtin_server.url, "POST", "/api/chat", body)


@settings(FUZZ, max_examples=60)
@given(requests_=st.lists(st.tuples(st.just("/api/generate"), GENERATE) | st.tuples(st.just("/api/chat"), CHAT),
                          min_size=2, max_size=6))
def test_bodies_sent_at_once_share_the_slots(builtin_server, requests_):
    """Parallel slots: bodies sent together (batched, queued, refused) each get a valid answer."""
    failures: list[BaseException] = []

    def one(path, body) -> None:
        try:
            send(requests, builtin_server.url, "POST", path, body)
        except BaseException as exc:  # re-raised below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=one, args=item) for item in requests_]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


@FUZZ
@given(path=st.sampled_from(["/api/show", "/api/pull", "/api/copy", "/api/embed"]), body=SIMPLE)
def test_other_endpoint_bodies(builtin_server, session, path, body):
    if path == "/api/pull":  # pulling the bundled model re-hashes 250 MB: tested elsewhere
        body = {k: "llama3" if isinstance(v, str) and is_bundled(v) else v for k, v in body.items()}
    if path == "/api/copy" and is_bundled(body.get("destination")):  # copying gemma over smollm2 broke later tests
        body = {**body, "destination": FUZZ_NAMES[0]}
    send(session, builtin_server.url, "POST", path, body)


@settings(FUZZ, max_examples=150)
@given(path=st.sampled_from(["/api/generate", "/api/chat", "/api/show"]), raw=DEEP | HUGE_OPTION)
def test_deep_and_huge_bodies(builtin_server, session, path, raw):
    """They name a bundled model: sent only where that cannot delete or replace it."""
    send(session, builtin_server.url, "POST", path, raw)


@FUZZ
@given(path_body=st.sampled_from(["/api/create", "/api/copy", "/api/delete"]).flatmap(
    lambda path: st.tuples(st.just(path), {"/api/create": CREATE, "/api/copy": COPY, "/api/delete": DELETE}[path])))
def test_store_bodies(builtin_server, session, path_body):
    path, body = path_body
    send(session, builtin_server.url, "DELETE" if path == "/api/delete" else "POST", path, body)


@pytest.fixture(scope="module", autouse=True)
def fuzzed_models_removed(builtin_server):
    yield
    for name in FUZZ_NAMES:
        requests.delete(builtin_server.url + "/api/delete", json={"model": name}, timeout=30)
    names = {m["name"] for m in requests.get(builtin_server.url + "/api/tags", timeout=10).json()["models"]}
    assert set(BUNDLED_MODELS) <= names


@FUZZ
@given(method_path=st.sampled_from([("POST", "/api/generate"), ("POST", "/api/chat"), ("POST", "/api/show"),
                                    ("DELETE", "/api/delete"), ("POST", "/api/copy"), ("POST", "/api/pull"),
                                    ("POST", "/api/create")]),
       raw=RAW)
def test_raw_bytes(builtin_server, session, method_path, raw):
    method, path = method_path
    if path in ("/api/generate", "/api/chat"):
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            raw = json.dumps(bounded(value)).encode()
    send(session, builtin_server.url, method, path, raw)


def test_the_server_still_serves_after_the_fuzzing(builtin_server, session):
    assert session.get(builtin_server.url + "/", timeout=5).text == "Ollama is running"
    response = session.post(builtin_server.url + "/api/generate", timeout=60, json={
        "model": MODEL_NAME, "prompt": "Hola", "stream": False, "options": {"num_predict": 3}})
    assert response.status_code == 200 and response.json()["eval_count"] == 3
    log = builtin_server.log.read_text()
    assert "Traceback" not in log and "unhandled error" not in log
