"""AppTest: the Today's API page (tool calling, embeddings) against the scripted server in today's
formats (qwen3:0.6b calls tools, all-minilm embeds), a server without such models, the built-in
server, a server down, and today's errors shown with what to do."""
import json
import pathlib

import pytest

from lib import tools
from lib.client import CapabilityMissing, OllamaClient
from tests.plugins.apptest import metrics, open_app, open_http, texts, values
from tests.plugins.fake_ollama import Script, fixture_lines, show_body

PAGE = "pages/today.py"
FIXTURES = pathlib.Path(__file__).parent / "fixtures"
ANSWER = "In Lima it is 05:15 right now (UTC-05:00), and 18.5 × 4 = 74."
QWEN, MINILM, GEMMA = "qwen3:0.6b", "all-minilm:latest", "gemma3:270m"
TAGS = {"models": [
    {"name": QWEN, "model": QWEN, "modified_at": "2026-08-20T09:12:44.1Z", "size": 522653767,
     "digest": "7df6b6e09427a769808717c0a93cadc4ae99ed4eb8bf5ca557c90846becea435",
     "details": {"format": "gguf", "family": "qwen3", "parameter_size": "751.63M", "quantization_level": "Q4_K_M"}},
    {"name": MINILM, "model": MINILM, "modified_at": "2026-08-20T09:20:01.5Z", "size": 45960996,
     "digest": "1b226e2802dbb772b5fc32a58f103ca1804ef7501331012de126ab22f67475ef",
     "details": {"format": "gguf", "family": "bert", "parameter_size": "23M", "quantization_level": "F16"}},
    {"name": GEMMA, "model": GEMMA, "modified_at": "2026-08-19T17:02:13.9Z", "size": 291554930,
     "digest": "e7d36fb2c3b3293cfe56d55889867a064b3a2b22e98335f2e6e8a387e081d6be",
     "details": {"format": "gguf", "family": "gemma3", "parameter_size": "268.10M", "quantization_level": "Q8_0"}},
]}


def show(capabilities: list[str], architecture: str, context: int) -> Script:
    body = show_body("gemma:2b")
    body.update(capabilities=capabilities,
                model_info={"general.architecture": architecture, f"{architecture}.context_length": context})
    return Script(body=body)


def script_models(fake):
    """/api/tags with the three models, and their /api/show in that order (asked once each)."""
    fake.reply("GET", "/api/tags", body=TAGS)
    fake.sequence("POST", "/api/show", [show(["completion", "tools", "thinking"], "qwen3", 40960),
                                       show(["embedding"], "bert", 256),
                                       show(["completion"], "gemma3", 32768)])


def recorded(name: str) -> Script:
    return Script(body=json.loads(fixture_lines(name)[0]))


def embed_answer() -> Script:
    return Script(body=json.loads((FIXTURES / "today-embed.json").read_text()))


def today(monkeypatch, url, lang="en"):
    return open_app(monkeypatch, url, lang, page=PAGE)


def click(app, key):
    app.button(key=key).click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def errors(app) -> str:
    return "\n".join(values(app.error))


def warnings(app) -> str:
    return "\n".join(values(app.warning))


def http_labels(app) -> list[str]:
    return [e.label for e in app.expander if e.label.startswith(("Show the HTTP", "Ver el HTTP"))]


# ------------------------------------------------------------------------------ tools
def test_tools_flow_shows_every_step_and_the_answer(monkeypatch, fake_ollama):
    script_models(fake_ollama)
    fake_ollama.sequence("POST", "/api/chat", [recorded("today-chat-tool-call"), recorded("today-chat-tool-answer")])
    app = today(monkeypatch, fake_ollama.url)
    assert app.title[0].value == "Today's API"
    assert app.selectbox(key="today.setting.tools_model").options == [QWEN]
    assert app.text_input(key="today.setting.question").value == "What time is it in Lima, and how much is 18.5 times 4?"
    definitions = next(c.value for c in app.code if '"get_current_time"' in c.value)
    assert json.loads(definitions) == tools.definitions()  # the tools array, as sent
    click(app, "today.tools.ask")
    page = texts(app)
    assert ANSWER in page and "Round 1" in page and "Round 2" in page
    assert "Calls the model asked for (`message.tool_calls`): 2" in page
    assert "`get_current_time` checked against its schema and run here." in values(app.success)
    assert "`calculate` checked against its schema and run here." in values(app.success)
    sent_back = [c.value for c in app.code if c.value.startswith('{"role": "tool"')]
    assert sent_back[1] == ('{"role": "tool", "content": "{\\"a\\": 18.5, \\"operation\\": \\"multiply\\", '
                            '\\"b\\": 4, \\"result\\": 74}", "tool_name": "calculate", "tool_call_id": "call_7mw1c0zt"}')
    assert http_labels(app) == ["Show the HTTP: POST /api/chat → 200"] * 2
    first, second = fake_ollama.bodies("/api/chat")
    assert first["model"] == QWEN and first["tools"] == tools.definitions() and first["stream"] is False
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool", "tool"]
    # the model's reasoning is there, collapsed; each call's HTTP opens with its tools array
    assert any(e.label == "Reasoning (`message.thinking`)" for e in app.expander)
    open_http(app, "today.tools.http.1")
    assert any('"tools": [' in c.value and '"get_current_time"' in c.value for c in app.code)


def test_results_survive_a_visit_to_another_page(monkeypatch, fake_ollama):
    script_models(fake_ollama)
    fake_ollama.sequence("POST", "/api/chat", [recorded("today-chat-tool-call"), recorded("today-chat-tool-answer")])
    fake_ollama.scripts[("POST", "/api/embed")] = embed_answer()
    app = click(click(today(monkeypatch, fake_ollama.url), "today.tools.ask"), "today.embed.go")
    app.switch_page("pages/server.py").run()
    assert ANSWER not in texts(app)
    app.switch_page(PAGE).run()
    assert ANSWER in texts(app) and metrics(app)["Vector length"] == "384"
    assert len(fake_ollama.bodies("/api/chat")) == 2 and len(fake_ollama.bodies("/api/embed")) == 1


def test_a_refused_call_is_shown_and_answered(monkeypatch, fake_ollama):
    script_models(fake_ollama)
    bad = {"model": QWEN, "created_at": "2026-08-22T10:15:03.5Z", "done": True, "done_reason": "stop",
           "message": {"role": "assistant", "content": "", "tool_calls": [
               {"function": {"index": 0, "name": "calculate", "arguments": '{"a": "18,5", "operation": "multiply", "b": 4}'}},
               {"function": {"index": 1, "name": "get_weather", "arguments": {"city": "Lima"}}}]}}
    fake_ollama.sequence("POST", "/api/chat", [Script(body=bad), recorded("today-chat-tool-answer")])
    app = click(today(monkeypatch, fake_ollama.url), "today.tools.ask")
    shown = warnings(app)
    assert "`calculate` was not run" in shown and "do not match the schema of `calculate`" in shown
    assert "`get_weather` was not run" in shown and "a function that does not exist (`get_weather`)" in shown
    assert "'18,5' is not of type 'number'" in [c.value for c in app.code]
    assert "`calculate`: the arguments arrived as a JSON string, not an object" in "\n".join(values(app.info))
    assert ANSWER in texts(app)


def test_a_model_that_loops_is_stopped(monkeypatch, fake_ollama):
    script_models(fake_ollama)
    call = json.loads(fixture_lines("today-chat-tool-call")[0])
    fake_ollama.sequence("POST", "/api/chat", [Script(body=call)] * (tools.MAX_ROUNDS + 2))
    app = click(today(monkeypatch, fake_ollama.url, "es"), "today.tools.ask")
    assert "El modelo seguía llamando herramientas después de 5 rondas" in warnings(app)
    assert len(fake_ollama.bodies("/api/chat")) == tools.MAX_ROUNDS and "Ronda 5" in texts(app)


def test_a_400_capability_error_says_what_the_model_cannot_do(monkeypatch, fake_ollama):
    script_models(fake_ollama)
    fake_ollama.reply("POST", "/api/chat", 400, {"error": "registry.ollama.ai/library/qwen3:0.6b does not support tools"})
    app = click(today(monkeypatch, fake_ollama.url), "today.tools.ask")
    assert '"qwen3:0.6b" cannot call tools' in errors(app)
    assert "ollama show qwen3:0.6b\nollama pull qwen3:0.6b" in [c.value for c in app.code]
    assert "Show the HTTP: POST /api/chat → 400" in [e.label for e in app.expander]


def test_a_busy_server_is_explained(monkeypatch, fake_ollama):
    script_models(fake_ollama)
    fake_ollama.reply("POST", "/api/chat", 503, {"error": "server busy, please try again.  maximum pending requests exceeded"})
    app = click(today(monkeypatch, fake_ollama.url, "es"), "today.tools.ask")
    assert "El servidor está ocupado: hay demasiadas peticiones esperando" in errors(app)
    assert "OLLAMA_MAX_QUEUE" in errors(app)


def test_a_forbidden_server_is_explained(monkeypatch, fake_ollama):
    fake_ollama.raw("GET", "/api/tags", b"", status=403)
    app = today(monkeypatch, fake_ollama.url)
    assert f"The server at {fake_ollama.url} refused the request (403, with no message)" in errors(app)
    assert "OLLAMA_ORIGINS" in errors(app) and "proxy_set_header Host localhost:11434;" in errors(app)
    assert app.header[0].value == "Tool calling"  # the page still explains itself


# ------------------------------------------------------------------------------ embeddings
def test_embeddings_flow_shows_vectors_and_the_heatmap(monkeypatch, fake_ollama):
    script_models(fake_ollama)
    fake_ollama.scripts[("POST", "/api/embed")] = embed_answer()
    app = today(monkeypatch, fake_ollama.url)
    assert app.selectbox(key="today.setting.embed_model").options == [MINILM]
    click(app, "today.embed.go")
    assert fake_ollama.bodies("/api/embed") == [{"model": MINILM, "input": [
        "The cat sleeps on the sofa.", "A kitten is napping on the couch.", "Interest rates rose again this quarter."]}]
    shown = metrics(app)
    assert shown["Sentences"] == "3" and shown["Vector length"] == "384" and shown["Tokens read"] == "27"
    assert shown["Server time"] == "41.2 ms"
    assert "Most alike: sentences 1 and 2 (cosine 0.76)." in texts(app)
    table = app.dataframe[0].value
    assert list(table["Sentence"]) == ["The cat sleeps on the sofa.", "A kitten is napping on the couch.",
                                       "Interest rates rose again this quarter."]
    assert table["First 5 values"][0].startswith("0.0338, 0.0077, -0.0436, 0.0967, 0.0482")
    chart = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert chart["data"][0]["type"] == "heatmap" and len(chart["data"][0]["z"]) == 3
    assert chart["data"][0]["x"][0] == "1. The cat sleeps on the sofa."
    assert "Show the HTTP: POST /api/embed → 200" in http_labels(app)


def test_truncate_off_and_dimensions_are_sent_and_a_long_text_refused(monkeypatch, fake_ollama):
    script_models(fake_ollama)
    fake_ollama.reply("POST", "/api/embed", 400, {"error": "the input length exceeds the context length"})
    app = today(monkeypatch, fake_ollama.url)
    app.text_area(key="today.setting.sentences").set_value("word " * 400)
    app.toggle(key="today.setting.truncate").set_value(False)
    app.number_input(key="today.setting.dimensions").set_value(128)
    click(app, "today.embed.go")
    assert fake_ollama.bodies("/api/embed")[-1] == {"model": MINILM, "input": [("word " * 400).strip()],
                                                    "truncate": False, "dimensions": 128}
    assert "A text is longer than the model can read" in errors(app)


def test_a_long_sentence_may_have_been_cut(monkeypatch, fake_ollama):
    script_models(fake_ollama)
    fake_ollama.reply("POST", "/api/embed", body={"model": MINILM, "embeddings": [[0.6, 0.8], [1.0, 0.0]],
                                                  "total_duration": 9000000, "prompt_eval_count": 260})
    app = today(monkeypatch, fake_ollama.url)
    app.text_area(key="today.setting.sentences").set_value("short\n" + "long " * 100)
    click(app, "today.embed.go")
    assert ("Sentences with more characters than the tokens the model reads (256): 2. They may have been cut"
            in "\n".join(values(app.info)))


def test_no_sentence_and_too_many_sentences(monkeypatch, fake_ollama):
    script_models(fake_ollama)
    app = today(monkeypatch, fake_ollama.url)
    app.text_area(key="today.setting.sentences").set_value("\n   \n")
    click(app, "today.embed.go")
    assert "Type at least one sentence (one per line)." in warnings(app) and not fake_ollama.bodies("/api/embed")
    app.text_area(key="today.setting.sentences").set_value("\n".join(f"sentence {n}" for n in range(25)))
    click(app, "today.embed.go")
    assert "Only the first 20 sentences were sent; 5 more were left out." in warnings(app)
    assert len(fake_ollama.bodies("/api/embed")[-1]["input"]) == 20


def test_out_of_memory_while_embedding(monkeypatch, fake_ollama):
    script_models(fake_ollama)
    fake_ollama.reply("POST", "/api/embed", 500, {"error": "llama-server reported out-of-memory during startup"})
    app = click(today(monkeypatch, fake_ollama.url, "es"), "today.embed.go")
    assert "El modelo no cabe en la memoria" in errors(app)


def test_the_old_endpoint_is_explained_with_its_curl(monkeypatch, fake_ollama):
    script_models(fake_ollama)
    app = today(monkeypatch, fake_ollama.url, "es")
    assert (f"curl {fake_ollama.url}/api/embeddings -d '{{\n  \"model\": \"{MINILM}\",\n"
            f"  \"prompt\": \"Las llamas son parientes de los camellos\"\n}}'") in [c.value for c in app.code]
    assert any(e.label == "La forma antigua: /api/embeddings" for e in app.expander)


# ------------------------------------------------------------------------------ no model, no server
@pytest.mark.parametrize("lang, tools_title, embed_title", [
    ("en", "No installed model can call tools", "No installed model makes embeddings"),
    ("es", "Ningún modelo instalado puede llamar herramientas", "Ningún modelo instalado calcula embeddings"),
])
def test_a_server_without_capable_models_says_what_to_pull(monkeypatch, fake_ollama, lang, tools_title, embed_title):
    app = today(monkeypatch, fake_ollama.url, lang)  # the course's gemma:2b and llava
    assert tools_title in warnings(app) and embed_title in warnings(app)
    codes = [c.value for c in app.code]
    assert "ollama pull qwen3:0.6b\nollama pull qwen3:1.7b" in codes
    assert "ollama pull embeddinggemma\nollama pull all-minilm" in codes
    assert "gemma:2b, llava:latest" in texts(app)
    assert not [b for b in app.button if b.key in ("today.tools.ask", "today.embed.go")]
    assert not app.info  # a real Ollama: no word about the built-in server


def test_server_down(monkeypatch, closed_port):
    app = today(monkeypatch, closed_port)
    assert f"Connection refused at {closed_port}" in errors(app)
    assert [h.value for h in app.header] == ["Tool calling", "Embeddings"]
    assert not [b for b in app.button if b.key in ("today.tools.ask", "today.embed.go")]


@pytest.mark.builtin
@pytest.mark.parametrize("lang, tools_note, embed_note", [
    ("en", "The built-in server has no such model: its bundled models (Gemma 3 270M, SmolLM2 135M) answer 400 `does not support tools`.",
     "The built-in server has no such model: its bundled models answer 400 `does not support embeddings`."),
    ("es", "El servidor integrado no tiene ninguno: sus modelos (Gemma 3 270M, SmolLM2 135M) responden 400 `does not support tools`.",
     "El servidor integrado no tiene ninguno: sus modelos responden 400 `does not support embeddings`."),
])
def test_the_builtin_server_has_no_tools_or_embedding_model(monkeypatch, builtin_server, lang, tools_note, embed_note):
    app = today(monkeypatch, builtin_server.url, lang)
    notes = "\n".join(values(app.info))
    assert tools_note in notes and embed_note in notes
    assert builtin_server.model in texts(app)  # named among the installed models without the capability
    assert not [b for b in app.button if b.key in ("today.tools.ask", "today.embed.go")]
    # what the notes say, the built-in server does
    client = OllamaClient(builtin_server.url)
    with pytest.raises(CapabilityMissing, match="does not support tools"):
        client.chat(builtin_server.instruct_model, [{"role": "user", "content": "2+2?"}], stream=False,
                    tools=tools.definitions())
    with pytest.raises(CapabilityMissing, match="does not support embeddings"):
        client.embed(builtin_server.instruct_model, ["a"])
