"""lib/client.py against the scripted fake Ollama: endpoints, streaming, every typed failure."""
import json
import threading
import time

import pytest

from lib import client as client_module
from lib.client import (CannotConnect, MalformedResponse, ModelNotFound, NotOllama, OllamaClient,
                        OutOfMemory, Redirected, RequestTimeout, ServerError, StreamError)
from tests.plugins.fake_ollama import fixture_lines


@pytest.fixture
def client(fake_ollama):
    return OllamaClient(fake_ollama.url)


def test_status_reports_version_and_latency(client):
    status = client.status()
    assert status.reachable and status.version == "0.33.0"
    assert 0 < status.latency_ms < 1000
    assert status.builtin is None


def test_status_recognises_the_builtin_server(client, fake_ollama):
    fake_ollama.reply("GET", "/api/version", body={"version": "0.33.0", "builtin": {"engine": "llama.cpp"}})
    assert client.status().builtin == {"engine": "llama.cpp"}


def test_tags_ps_show(client):
    assert [m["name"] for m in client.tags()["models"]] == ["gemma:2b", "llava:latest"]
    assert client.ps()["models"][0]["context_length"] == 4096
    assert "vision" in client.show("llava")["capabilities"]


def test_streamed_generate_yields_the_recorded_chunks_and_final_metrics(client, fake_ollama):
    stream = client.generate("gemma:2b", "¿porqué el cielo es azúl?")
    chunks = list(stream)
    assert len(chunks) == 24
    assert stream.text == "El cielo no es azúl. El cielo es azul porque contiene más azul que cualquier otro color del espectro visible."
    assert stream.final["eval_count"] == 24 and stream.final["total_duration"] == 6576316703
    assert fake_ollama.bodies("/api/generate") == [
        {"model": "gemma:2b", "prompt": "¿porqué el cielo es azúl?", "stream": True}]
    exchange = stream.exchange
    assert exchange.streamed and exchange.status == 200 and exchange.line_count == 24
    assert exchange.final_chunk()["done"] is True
    assert exchange.first_byte_s is not None and exchange.elapsed_s >= exchange.first_byte_s


def test_chat_texts_feed_write_stream(client):
    stream = client.chat("gemma:2b", [{"role": "user", "content": "hola"}])
    assert "".join(stream.texts()).startswith("El cielo no es azúl.")


def test_not_streamed_generate_returns_one_object(client, fake_ollama):
    answer = client.generate("gemma:2b", "x", stream=False, options={"seed": 123, "temperature": 0})
    assert answer["response"].startswith("El cielo no es azúl.") and answer["done"] is True
    assert fake_ollama.bodies("/api/generate")[-1]["options"] == {"seed": 123, "temperature": 0}
    assert client.last.path == "/api/generate" and not client.last.streamed


def test_stream_is_read_lazily(client, fake_ollama):
    """The first chunk arrives while the server is still writing: nothing waits for the end."""
    fake_ollama.stream("POST", "/api/generate", fixture_lines("generate-stream")[:5], delay=0.3)
    stream = client.generate("gemma:2b", "x")
    started = time.perf_counter()
    first = next(iter(stream))
    assert first["response"] == "El"
    assert time.perf_counter() - started < 1.0  # five lines take 1.5 s to write


def test_closing_a_stream_disconnects(client, fake_ollama):
    fake_ollama.stream("POST", "/api/generate", fixture_lines("generate-stream"), delay=0.05)
    stream = client.generate("gemma:2b", "x")
    for number, _ in enumerate(stream):
        if number == 2:
            stream.close()
            break
    assert stream.stopped and stream.text == "El cielo no"


def stop_from_another_thread(stream, pieces, arrived=lambda: True) -> list:
    """What Stop does in the dashboard: `pieces()` of `stream` read on one thread, the stream closed
    from another once `arrived()`; the reader must end at once and without error."""
    seen, errors = [], []

    def read():
        try:
            seen.extend(pieces())
        except BaseException as error:  # noqa: BLE001 - the caller asserts there is none
            errors.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + 5
    while not arrived() and time.monotonic() < deadline:
        time.sleep(0.01)
    stream.close()
    reader.join(timeout=5)
    assert not reader.is_alive() and errors == [] and stream.stopped
    return seen


def test_closing_a_stream_from_another_thread_ends_it_quietly(client, fake_ollama):
    """The next script run closes the stream the old one reads."""
    fake_ollama.stream("POST", "/api/generate", fixture_lines("generate-stream"), delay=0.05)
    stream = client.generate("gemma:2b", "x")
    seen = stop_from_another_thread(stream, stream.texts, lambda: len(stream.parts) >= 3)
    assert 3 <= len(stream.parts) < 24 and "".join(seen) == stream.text


def test_close_from_another_thread_wakes_a_read_waiting_for_a_silent_server(client, fake_ollama):
    """Stop while the server evaluates a long prompt: the reader must not wait for the next line."""
    fake_ollama.stream("POST", "/api/generate", fixture_lines("generate-stream"), delay=30)
    stream = client.generate("gemma:2b", "x")  # the headers came; the first line is 30 s away
    started = time.monotonic()
    stop_from_another_thread(stream, stream.texts)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("message", ["model 'llama9' not found",
                                     'model "llama9" not found, try pulling it first'])
def test_model_not_found_in_both_message_forms(client, fake_ollama, message):
    fake_ollama.reply("POST", "/api/chat", 404, {"error": message})
    with pytest.raises(ModelNotFound) as caught:
        client.chat("llama9", [{"role": "user", "content": "hola"}])
    assert caught.value.model == "llama9" and caught.value.status == 404


def test_unknown_model_from_the_default_script(client):
    with pytest.raises(ModelNotFound):
        client.show("nope")


def test_http_500_carries_status_and_message(client, fake_ollama):
    fake_ollama.reply("POST", "/api/generate", 500, {"error": 'option "temperature" must be of type float32'})
    with pytest.raises(ServerError) as caught:
        client.generate("gemma:2b", "x", stream=False)
    assert caught.value.status == 500 and "float32" in caught.value.message
    assert caught.value.exchange.error == caught.value.message


def test_out_of_memory_is_its_own_type(client, fake_ollama):
    fake_ollama.reply("POST", "/api/generate", 500,
                      {"error": "model requires more system memory (38.1 GiB) than is available (15.2 GiB)"})
    with pytest.raises(OutOfMemory):
        client.generate("gemma:2b", "x", stream=False)


def test_error_line_mid_stream_keeps_the_partial_text(client, fake_ollama):
    lines = fixture_lines("generate-stream")[:3] + ['{"error":"an error was encountered while running the model"}']
    fake_ollama.stream("POST", "/api/generate", lines)
    stream = client.generate("gemma:2b", "x")
    with pytest.raises(StreamError) as caught:
        list(stream)
    assert caught.value.status == 200 and "running the model" in caught.value.message
    assert stream.text == "El cielo no"


def test_pull_error_line_is_an_error(client, fake_ollama):
    fake_ollama.stream("POST", "/api/pull", ['{"status":"pulling manifest"}',
                                             '{"error":"pull model manifest: file does not exist"}'])
    with pytest.raises(StreamError, match="file does not exist"):
        list(client.pull("nope"))


@pytest.mark.parametrize("bad, why", [("not json at all", "not JSON"), ("", "blank line"),
                                      ("[1, 2]", "not a JSON object")])
def test_malformed_lines(client, fake_ollama, bad, why):
    fake_ollama.stream("POST", "/api/chat", fixture_lines("chat-stream")[:2] + [bad])
    stream = client.chat("gemma:2b", [])
    with pytest.raises(MalformedResponse, match=why):
        list(stream)
    assert stream.text == "El cielo"


def test_connection_dropped_mid_stream(client, fake_ollama):
    fake_ollama.stream("POST", "/api/chat", fixture_lines("chat-stream"), close_after=3)
    stream = client.chat("gemma:2b", [])
    with pytest.raises((CannotConnect, MalformedResponse)):
        list(stream)
    assert stream.text == "El cielo no"


def test_refused(closed_port):
    with pytest.raises(CannotConnect) as caught:
        OllamaClient(closed_port).version()
    assert caught.value.reason == "refused"


def test_name_not_resolved():
    with pytest.raises(CannotConnect) as caught:
        OllamaClient("http://no-such-host.invalid:11434").version()
    assert caught.value.reason == "dns"


def test_slow_server_times_out_instead_of_hanging(fake_ollama):
    fake_ollama.hang("GET", "/api/version", seconds=3)
    slow = OllamaClient(fake_ollama.url, read_timeout=0.5)
    started = time.perf_counter()
    with pytest.raises(RequestTimeout) as caught:
        slow._json("GET", "/api/version", read_timeout=0.5)
    assert caught.value.phase == "read" and time.perf_counter() - started < 2


def test_server_that_accepts_but_never_answers(fake_ollama):
    """A socket that accepts and stays silent (a hung process): bounded by the read timeout."""
    import socket
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        silent = OllamaClient(f"http://127.0.0.1:{listener.getsockname()[1]}", read_timeout=0.5)
        started = time.perf_counter()
        status = silent.status()
        assert isinstance(status.error, RequestTimeout) and status.error.phase == "read"
        assert time.perf_counter() - started < 2


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("call, method, path", [(lambda c: c.tags(), "GET", "/api/tags"),
                                                (lambda c: c.chat("gemma:2b", [{"role": "user", "content": "secreto"}]),
                                                 "POST", "/api/chat")])
def test_a_redirect_is_reported_never_followed(client, fake_ollama, recorder, status, call, method, path):
    fake_ollama.redirect(method, path, recorder.url + path, status)
    with pytest.raises(Redirected) as caught:
        call(client)
    assert caught.value.location == recorder.url + path and caught.value.exchange.status == status
    assert recorder.requests == []  # the chat body never left for the other address


def test_a_relative_redirect_names_the_absolute_address(client, fake_ollama):
    fake_ollama.redirect("GET", "/api/version", "/elsewhere")
    status = client.status()
    assert not status.reachable and isinstance(status.error, Redirected)
    assert status.error.location == fake_ollama.url + "/elsewhere"


def test_status_asks_only_the_version_when_all_is_well(client, fake_ollama):
    assert client.status().reachable
    assert [path for _, path, _ in fake_ollama.requests] == ["/api/version"]


def test_wrong_port_is_not_ollama(client, fake_ollama):
    fake_ollama.raw("GET", "/", b"<html><body>Welcome to nginx!</body></html>", "text/html")
    fake_ollama.raw("GET", "/api/version", b"<html>404 Not Found</html>", "text/html", status=404)
    with pytest.raises(NotOllama):
        client.heartbeat()
    status = client.status()
    assert not status.reachable and isinstance(status.error, NotOllama)


def test_404_page_not_found_means_not_ollama(client, fake_ollama):
    fake_ollama.raw("GET", "/api/version", b"404 page not found", status=404)
    with pytest.raises(NotOllama):
        client.version()


def test_huge_response_is_refused(client, fake_ollama, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_LINE_BYTES", 1000)
    fake_ollama.raw("GET", "/api/tags", json.dumps({"models": ["x" * 5000]}).encode(), "application/json")
    with pytest.raises(MalformedResponse, match="exceeds"):
        client.tags()


def test_huge_line_in_a_stream_is_refused(client, fake_ollama, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_LINE_BYTES", 1000)
    fake_ollama.stream("POST", "/api/generate", ['{"response":"' + "a" * 200_000 + '"}'])
    with pytest.raises(MalformedResponse, match="exceeds"):
        list(client.generate("gemma:2b", "x"))


def test_long_stream_is_recorded_with_head_tail_and_count(client, fake_ollama):
    lines = [json.dumps({"response": str(i), "done": False}) for i in range(1000)]
    lines.append(json.dumps({"response": "", "done": True, "eval_count": 1000}))
    fake_ollama.stream("POST", "/api/generate", lines)
    stream = client.generate("gemma:2b", "x")
    list(stream)
    head, skipped, tail = stream.exchange.response_lines()
    assert len(head) + len(tail) == client_module.RECORDED_LINES
    assert skipped == 1001 - client_module.RECORDED_LINES
    assert json.loads(head[0])["response"] == "0" and json.loads(tail[-1])["eval_count"] == 1000
    assert stream.exchange.final_chunk()["done"] is True


def test_delete_empty_body_and_unload(client, fake_ollama):
    assert client.delete("gemma:2b") == {}
    assert client.unload("gemma:2b")["done_reason"] == "unload"
    assert fake_ollama.bodies("/api/generate")[-1] == {"model": "gemma:2b", "keep_alive": 0}


def test_copy_and_embed(client, fake_ollama):
    assert client.copy("gemma:2b", "gemma-clase:2b") == {}
    assert fake_ollama.bodies("/api/copy") == [{"source": "gemma:2b", "destination": "gemma-clase:2b"}]
    with pytest.raises(ModelNotFound):
        client.copy("nope", "x")
    assert len(client.embed("gemma:2b", ["uno", "dos"])["embeddings"]) == 2


def test_history_is_bounded_and_ordered(client):
    for _ in range(client_module.HISTORY_SIZE + 5):
        client.version()
    assert len(client.history) == client_module.HISTORY_SIZE
    assert client.last.path == "/api/version"


def test_cors_check(client, fake_ollama):
    assert client.cors_allows("http://aula.example") is True
    fake_ollama.allowed_origins = ("http://localhost:8501",)
    assert client.cors_allows("http://aula.example") is False


def test_one_session_per_client_reuses_connections(client, fake_ollama):
    sessions = {id(client.session)}
    client.version()
    client.tags()
    assert sessions == {id(client.session)}


def test_concurrent_streams_do_not_mix(fake_ollama):
    """Two users' clients streaming at once each get their own, complete answer."""
    fake_ollama.stream("POST", "/api/generate", fixture_lines("generate-stream"), delay=0.005)
    results = {}

    def run(name):
        results[name] = OllamaClient(fake_ollama.url).generate("gemma:2b", name)
        list(results[name])

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["a"].text == results["b"].text and results["a"].final["eval_count"] == 24


# ------------------------------------------------------------------------------ thinking models (today's API)
THINKING = ("Okay, the user is asking for the capital of Spain. I know that the capital of Spain is Madrid. Let me "
            "make sure there's no confusion with other cities like Barcelona. No, it's definitely Madrid. I should "
            "answer in Spanish, briefly.\n")
ANSWER = "La capital de España es **Madrid**."


def chunk(thinking: str = "", content: str = "", done: bool = False) -> str:
    message = {"role": "assistant", "content": content, **({"thinking": thinking} if thinking else {})}
    return json.dumps({"model": "qwen3:0.6b", "created_at": "2026-08-14T10:21:03.662447Z", "message": message,
                       "done": done})


@pytest.mark.parametrize("path", ["/api/chat", "/api/generate"])
def test_reasoning_and_answer_accumulate_apart(client, fake_ollama, path):
    """Today's stream: reasoning chunks first, then the answer, each with its first piece's time."""
    fake_ollama.stream("POST", path, fixture_lines("today-chat-think" if path == "/api/chat" else "today-generate-think"))
    if path == "/api/chat":
        stream = client.chat("qwen3:0.6b", [{"role": "user", "content": "¿Cuál es la capital de España?"}])
    else:
        stream = client.generate("qwen3:0.6b", "¿Cuál es la capital de España?")
    pieces = list(stream.pieces())
    assert [kind for kind, _ in pieces] == ["thinking"] * 51 + ["content"] * 9
    assert stream.thinking == THINKING and stream.text == ANSWER and len(stream.thinking_parts) == 51
    assert 0 < stream.first_thinking_s <= stream.first_text_s <= stream.exchange.elapsed_s
    assert stream.final["eval_count"] == 64  # reasoning and answer together, and the think tags


def test_interleaved_reasoning_and_answer_keep_their_order(client, fake_ollama):
    """A chunk may carry both fields, and reasoning may come back after the answer began."""
    fake_ollama.stream("POST", "/api/chat", [chunk("Pienso"), chunk(content="Lima"), chunk(" más", " es"),
                                             chunk(content=" la capital"), chunk(" y fin"), chunk(done=True)])
    stream = client.chat("qwen3:0.6b", [])
    assert list(stream.pieces()) == [("thinking", "Pienso"), ("content", "Lima"), ("thinking", " más"),
                                     ("content", " es"), ("content", " la capital"), ("thinking", " y fin")]
    assert (stream.thinking, stream.text) == ("Pienso más y fin", "Lima es la capital")


def test_texts_are_only_the_answer(client, fake_ollama):
    fake_ollama.stream("POST", "/api/chat", fixture_lines("today-chat-think"))
    stream = client.chat("qwen3:0.6b", [])
    assert "".join(stream.texts()) == ANSWER and stream.thinking == THINKING


def test_a_stream_that_ends_while_reasoning_has_no_answer(client, fake_ollama):
    """num_predict reached during the reasoning: done, with reasoning and no answer at all."""
    final = json.loads(fixture_lines("today-chat-think")[-1]) | {"done_reason": "length", "eval_count": 20}
    fake_ollama.stream("POST", "/api/chat", fixture_lines("today-chat-think")[:20] + [json.dumps(final)])
    stream = client.chat("qwen3:0.6b", [])
    assert [kind for kind, _ in stream.pieces()] == ["thinking"] * 20
    assert stream.text == "" and stream.first_text_s is None and stream.thinking.startswith("Okay, the user")
    assert stream.final["done_reason"] == "length"


def test_closing_while_it_reasons_keeps_the_reasoning(client, fake_ollama):
    """Stop from another thread during the reasoning: what arrived stays, no error."""
    fake_ollama.stream("POST", "/api/chat", fixture_lines("today-chat-think"), delay=0.05)
    stream = client.chat("qwen3:0.6b", [])
    seen = stop_from_another_thread(stream, stream.pieces, lambda: len(stream.thinking_parts) >= 5)
    assert 5 <= len(stream.thinking_parts) < 51 and stream.text == "" and stream.final is None
    assert "".join(text for _, text in seen) == stream.thinking and THINKING.startswith(stream.thinking)
