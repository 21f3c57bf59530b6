""""Show the HTTP": request JSON, curl as the course writes it, Python code, response, fields."""
import json
import subprocess

import pytest

from lib import http_view
from lib.client import Exchange
from tests.plugins.fake_ollama import TAGS, fixture_lines

def note(kind, count):
    return f"{count:,} {kind}"


IMAGE = "iVBORw0KGgoAAAANSUhEUgAAAG0AAABmCAYAAADBPx+VAAAACXBIWXMAAAsTAAALEwEAmpwY" * 20


def exchange(path="/api/generate", body=None, method="POST", lines=(), content_type="application/x-ndjson"):
    recorded = Exchange(method, "http://localhost:11434", path, body, 200, content_type)
    for line in lines:
        recorded.record(line.encode())
    return recorded


def test_curl_as_the_course_writes_it():
    call = exchange(body={"model": "gemma:2b", "prompt": "¿porqué el cielo es azúl?"})
    assert http_view.curl_command(call) == (
        "curl http://localhost:11434/api/generate -d '{\n"
        '  "model": "gemma:2b",\n  "prompt": "¿porqué el cielo es azúl?"\n}\'')


def test_curl_runs_in_a_real_shell_with_quotes_in_the_prompt():
    """The single quote in "it's" must survive sh quoting: echo the -d argument back."""
    call = exchange(body={"model": "m", "prompt": "it's \"blue\" $HOME `x`"})
    command = http_view.curl_command(call).replace("curl http://localhost:11434/api/generate -d ", "printf %s ")
    printed = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True).stdout
    assert json.loads(printed) == call.body


def test_get_and_delete_forms():
    assert http_view.curl_command(exchange("/api/tags", None, "GET")) == "curl http://localhost:11434/api/tags"
    assert http_view.curl_command(exchange("/api/delete", {"model": "x"}, "DELETE")).startswith(
        "curl -X DELETE http://localhost:11434/api/delete -d '")


def test_images_are_short_on_screen_and_complete_in_the_copy():
    call = exchange(body={"model": "llava", "prompt": "¿Describe la imagen?", "images": [IMAGE]})
    screen = http_view.curl_command(call, note)
    assert IMAGE not in screen and "…[1,440 chars]" in screen
    assert IMAGE in http_view.curl_command(call) and IMAGE in http_view.python_code(call)
    chat = exchange("/api/chat", {"model": "llava", "messages": [{"role": "user", "content": "x", "images": [IMAGE]}]})
    assert IMAGE not in http_view.request_json(chat, note)
    assert call.body["images"] == [IMAGE]  # the recorded body itself is untouched


def test_python_code_for_a_stream_runs_against_the_fake(fake_ollama):
    """The generated code is real: run it against the fake and get the course's sentence."""
    call = Exchange("POST", fake_ollama.url, "/api/generate", {"model": "gemma:2b", "prompt": "x"},
                    200, "application/x-ndjson")
    import sys
    result = subprocess.run([sys.executable, "-c", http_view.python_code(call)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("El cielo no es azúl. El cielo es azul porque contiene")


def test_python_code_not_streamed(fake_ollama):
    call = Exchange("GET", fake_ollama.url, "/api/version", None, 200, "application/json")
    import sys
    result = subprocess.run([sys.executable, "-c", http_view.python_code(call)], capture_output=True,
                            text=True, timeout=30)
    assert result.stdout.strip() == "{'version': '0.33.0'}"


def test_long_stream_collapsed_with_a_count():
    lines = fixture_lines("generate-stream")  # 24 lines
    text, hidden = http_view.response_text(exchange(lines=lines), note, collapse_after=10)
    shown = text.splitlines()
    assert hidden == 14 and shown[5] == "…" and len(shown) == 11
    assert json.loads(shown[0])["response"] == "El" and '"done": true' in shown[-1]


def test_context_tokens_shortened_on_screen():
    final = fixture_lines("generate-stream")[-1]
    shown = http_view.shorten_response_line(final, note)
    assert json.loads(shown)["context"][-1] == "… 42 tokens"


def test_final_chunk_fields_explained():
    chunk = json.loads(fixture_lines("generate-stream")[-1])
    fields = {f.name: f for f in http_view.explain_final(chunk, note)}
    assert fields["total_duration"].readable == "6.58 s"
    assert fields["load_duration"].readable == "1.78 s"
    assert fields["prompt_eval_duration"].readable == "1.36 s"
    assert fields["context"].readable == "42 tokens"
    assert fields["tokens_per_second"].readable == "7.1 tokens/s"  # 24 / 3.391382 s
    assert fields["prompt_tokens_per_second"].readable == "13.2 tokens/s"
    assert all(f.meaning_key == f"field.{f.name}" for f in fields.values())


def test_zero_durations_give_no_speed():
    fields = http_view.explain_final({"done": True, "eval_count": 5, "eval_duration": 0}, note)
    assert "tokens_per_second" not in {f.name for f in fields}
    assert http_view.explain_final(None, note) == []


def tags_call(count: int) -> Exchange:
    first = TAGS["models"][0]
    body = {"models": [{**first, "name": f"model-{n:04d}:latest", "model": f"model-{n:04d}:latest"}
                       for n in range(count)]}
    return exchange("/api/tags", None, "GET", [json.dumps(body)], "application/json")


def test_a_long_model_list_shows_its_first_five_and_how_many_more():
    call = tags_call(300)
    complete = http_view.response_body(call)
    assert len(complete) > 100_000 and len(json.loads(complete)["models"]) == 300  # the download
    text, hidden = http_view.response_text(call, note)
    shown = json.loads(text)["models"]
    assert [m["name"] for m in shown[:5]] == [f"model-{n:04d}:latest" for n in range(5)]
    assert shown[5:] == ["… 295 more_models"] and hidden == 0
    assert len(text) < 3_000


def test_a_short_model_list_is_shown_as_received():
    call = tags_call(10)
    assert http_view.response_text(call, note)[0] == http_view.response_body(call)
    assert len(json.loads(http_view.response_text(tags_call(11), note)[0])["models"]) == 6


def test_the_reasoning_field_is_explained():
    whole_chat = json.loads(fixture_lines("today-chat-think")[-1])
    whole_chat["message"] = {"role": "assistant", "content": "Madrid.", "thinking": "Okay, the user asks…"}
    fields = {f.name: f for f in http_view.explain_final(whole_chat, note)}
    assert fields["message.thinking"].readable == "20 chars" and fields["message.thinking"].meaning_key == "field.message.thinking"
    assert fields["message"].readable == "assistant: 7 chars" and fields["eval_count"].value == "64"
    whole_generate = json.loads(fixture_lines("today-generate-think")[-1]) | {"response": "Madrid.", "thinking": "Pienso"}
    names = [f.name for f in http_view.explain_final(whole_generate, note)]
    assert names[names.index("response") + 1] == "thinking"


def test_python_code_for_a_thinking_stream_prints_the_reasoning_then_the_answer(fake_ollama):
    """The code a student copies reads `message.thinking` as well: run it against the fake."""
    fake_ollama.stream("POST", "/api/chat", fixture_lines("today-chat-think"))
    call = Exchange("POST", fake_ollama.url, "/api/chat",
                    {"model": "qwen3:0.6b", "messages": [{"role": "user", "content": "x"}], "think": True},
                    200, "application/x-ndjson")
    import sys
    result = subprocess.run([sys.executable, "-c", http_view.python_code(call)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Okay, the user is asking") and result.stdout.endswith("briefly.\nLa capital de España es **Madrid**.")
    generate = exchange(body={"model": "qwen3:0.6b", "prompt": "x"}, lines=fixture_lines("today-generate-think")[:2])
    assert 'print(chunk.get("thinking", ""), end="", flush=True)  # reasoning' in http_view.python_code(generate)
    plain = exchange(body={"model": "qwen3:0.6b", "prompt": "x", "think": False})
    assert "thinking" not in http_view.python_code(plain)


def test_the_python_code_holds_the_body_as_python():
    """JSON's true/false/null are not Python: every recorded call carries "stream": true."""
    body = {"model": "qwen3:0.6b", "messages": [{"role": "user", "content": "¿\"sí\"?\n\\ 🦙", "images": []}],
            "think": False, "stream": True, "format": {"type": "object", "properties": {}}, "keep_alive": None,
            "options": {"temperature": 0.5, "stop": ["\n"]}}
    literal = http_view.python_literal(body)
    assert eval(literal) == body  # noqa: S307 - our own output, tested
    assert literal.splitlines()[:3] == ["{", '    "model": "qwen3:0.6b",', '    "messages": [']
    call = exchange("/api/chat", body)
    compile(http_view.python_code(call), "request.py", "exec")


# ---------------------------------------------------------------- the official `ollama` client
def run_python(code: str) -> subprocess.CompletedProcess:
    import sys
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_client_forms_use_only_arguments_the_client_has():
    """CLIENT_METHODS against the installed ollama-python (the tests' compatibility judge)."""
    import inspect

    import ollama
    for path, (method, arguments) in http_view.CLIENT_METHODS.items():
        accepted = set(inspect.signature(getattr(ollama.Client, method)).parameters) - {"self"}
        assert set(arguments) <= accepted, (path, set(arguments) - accepted)
        assert callable(getattr(ollama, method))  # the module-level form used for the default server
    assert not hasattr(ollama.Client, "version")  # hence no client form for /api/version


def test_the_client_form_of_a_streamed_chat_on_the_default_server():
    call = exchange("/api/chat", {"model": "gemma:2b", "messages": [{"role": "user", "content": "hola"}],
                                  "options": {"seed": 123}, "stream": True})
    assert http_view.ollama_code(call).splitlines() == [
        "import ollama", "",
        "answer = ollama.chat(",
        '    model="gemma:2b",',
        "    messages=[", "        {", '            "role": "user",', '            "content": "hola"', "        }", "    ],",
        "    options={", '        "seed": 123', "    },",
        "    stream=True,",
        ")",
        "for chunk in answer:  # one object per NDJSON line",
        '    print(chunk.message.content, end="", flush=True)']


def test_the_client_forms_of_every_other_call():
    def code(path, body=None, method="POST", content_type="application/json", url="http://127.0.0.1:11434"):
        return http_view.ollama_code(Exchange(method, url, path, body, 200, content_type))

    assert code("/api/tags", None, "GET").splitlines()[2:] == [
        "answer = ollama.list()", "for model in answer.models:", "    print(model.model, model.size)"]
    assert "answer = ollama.ps()" in code("/api/ps", None, "GET")
    assert 'answer = ollama.show(\n    model="gemma:2b",\n)\nprint(answer.capabilities)' in code("/api/show", {"model": "gemma:2b"})
    assert 'ollama.delete(\n    model="x",\n)\nprint(answer.status)' in code("/api/delete", {"model": "x"}, "DELETE")
    assert 'source="a",\n    destination="b",' in code("/api/copy", {"source": "a", "destination": "b"})
    pull = code("/api/pull", {"model": "m", "insecure": False, "stream": True}, content_type="application/x-ndjson")
    assert "ollama.pull(" in pull and "    stream=True," in pull and "print(chunk.status" in pull
    create = code("/api/create", {"model": "p", "from": "m", "system": "s", "stream": True},
                  content_type="application/x-ndjson")
    assert '    from_="m",' in create and '    system="s",' in create
    embed = code("/api/embed", {"model": "all-minilm", "input": ["a", "b"], "dimensions": 8})
    assert "ollama.embed(" in embed and "    dimensions=8," in embed and "for vector in answer.embeddings:" in embed
    unload = code("/api/generate", {"model": "m", "keep_alive": 0})
    assert unload.endswith('    model="m",\n    keep_alive=0,\n)\nprint(answer.done_reason)')
    assert code("/api/version", None, "GET") is None and code("/", None, "HEAD") is None
    other = code("/api/chat", {"model": "m", "messages": [], "logprobs_extra": 1}, url="http://10.0.0.5:11434")
    assert other.startswith('from ollama import Client\n\nclient = Client(host="http://10.0.0.5:11434")\n')
    assert "# not an argument of chat(): logprobs_extra" in other and "answer = client.chat(" in other


def test_the_client_form_of_a_thinking_stream_prints_the_reasoning_then_the_answer(fake_ollama):
    fake_ollama.stream("POST", "/api/chat", fixture_lines("today-chat-think"))
    call = Exchange("POST", fake_ollama.url, "/api/chat",
                    {"model": "qwen3:0.6b", "messages": [{"role": "user", "content": "x"}], "think": True,
                     "stream": True}, 200, "application/x-ndjson")
    result = run_python(http_view.ollama_code(call))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Okay, the user is asking") and result.stdout.endswith("briefly.\nLa capital de España es **Madrid**.")


def test_the_lessons_read_all_form(fake_ollama):
    """en-llama reads the whole body and splits it; with `json=` (not the lesson's undefined `data`)."""
    call = Exchange("POST", fake_ollama.url, "/api/generate", {"model": "gemma:2b", "prompt": "x"},
                    200, "application/x-ndjson")
    code = http_view.python_read_all(call)
    assert "requests.post(url, json=json_data)" in code and ".splitlines()" in code
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("El cielo no es azúl. El cielo es azul porque contiene")
    assert http_view.python_read_all(exchange("/api/tags", None, "GET", content_type="application/json")) is None


@pytest.mark.builtin
@pytest.mark.parametrize("path", ["/api/generate", "/api/chat"])
def test_the_client_code_runs_against_the_built_in_server(builtin_server, path):
    """The snippet a student copies, run as is: the same text as the client called directly."""
    import ollama
    options = {"num_predict": 12, "seed": 7, "temperature": 0}
    prompt = "The capital of France is"
    body = ({"model": builtin_server.model, "prompt": prompt, "options": options, "stream": True}
            if path == "/api/generate" else
            {"model": builtin_server.model, "messages": [{"role": "user", "content": prompt}], "options": options,
             "stream": True})
    call = Exchange("POST", builtin_server.url, path, body, 200, "application/x-ndjson")
    result = run_python(http_view.ollama_code(call))
    assert result.returncode == 0, result.stderr
    client = ollama.Client(host=builtin_server.url)
    direct = (client.generate(builtin_server.model, prompt, options=options).response if path == "/api/generate"
              else client.chat(builtin_server.model, body["messages"], options=options).message.content)
    assert direct and result.stdout == direct
