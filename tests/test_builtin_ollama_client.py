"""The official `ollama` Python client as the judge of the built-in server's compatibility."""
from __future__ import annotations

import datetime as dt

import ollama
import pytest

from lib.builtin_server import BASE_MODEL, INSTRUCT_MODEL

pytestmark = pytest.mark.builtin

OPTIONS = {"num_predict": 8, "seed": 11, "temperature": 0.7}
FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def client(builtin_server) -> ollama.Client:
    return ollama.Client(host=builtin_server.url, timeout=120)


def test_list(client):
    models = {m.model: m for m in client.list().models}
    assert {BASE_MODEL, INSTRUCT_MODEL} <= set(models)
    assert models[BASE_MODEL].size > 253113024 and isinstance(models[BASE_MODEL].modified_at, dt.datetime)
    assert models[BASE_MODEL].details.family == "gemma3" and models[BASE_MODEL].details.quantization_level == "Q4_K_M"
    assert models[INSTRUCT_MODEL].details.family == "llama" and models[INSTRUCT_MODEL].details.quantization_level == "Q4_1"
    assert models[INSTRUCT_MODEL].details.parameter_size == "134.52M" and len(models[INSTRUCT_MODEL].digest) == 64


def test_show(client):
    show = client.show(BASE_MODEL)
    assert show.capabilities == ["completion"]
    assert show.modelinfo["general.architecture"] == "gemma3"
    assert show.details.parameter_size == "268.10M"
    assert "{{ .Prompt }}" in show.template and isinstance(show.modified_at, dt.datetime)
    instruct = client.show(INSTRUCT_MODEL)
    assert instruct.capabilities == ["completion"] and "<|im_start|>" in instruct.template
    assert '"<|im_end|>"' in instruct.parameters and "Apache License" in instruct.license


def test_generate_and_ps(client):
    response = client.generate(BASE_MODEL, "The capital of France is", options=OPTIONS)
    assert response.done and response.done_reason == "length" and response.eval_count == 8
    assert response.response and response.total_duration > response.eval_duration > 0
    assert response.context[-8:] and len(response.context) == response.prompt_eval_count + 8
    [running] = client.ps().models
    assert running.model == BASE_MODEL and running.size_vram == 0 and running.context_length == 4096
    assert running.expires_at > dt.datetime.now(dt.timezone.utc)


def test_generate_streamed_matches_the_single_answer(client):
    parts = list(client.generate(BASE_MODEL, "Once upon a time", options=OPTIONS, stream=True))
    assert [p.done for p in parts] == [False] * (len(parts) - 1) + [True]
    single = client.generate(BASE_MODEL, "Once upon a time", options=OPTIONS)
    assert "".join(p.response for p in parts) == single.response


def test_chat(client):
    messages = [{"role": "user", "content": "Hola, ¿qué tal?"}]
    response = client.chat(BASE_MODEL, messages=messages, options=OPTIONS)
    assert response.message.role == "assistant" and response.done_reason in ("stop", "length")
    assert response.eval_count <= 8 and response.prompt_eval_count > 5
    parts = list(client.chat(BASE_MODEL, messages=messages, options=OPTIONS, stream=True))
    assert "".join(p.message.content for p in parts) == response.message.content
    assert parts[-1].done and all(p.message.role == "assistant" for p in parts)


def test_the_instruct_model_ends_its_answer_by_itself(client):
    response = client.chat(INSTRUCT_MODEL, messages=FRANCE, options={"num_predict": 200, "temperature": 0})
    assert response.done_reason == "stop" and response.eval_count < 200
    assert "Paris" in response.message.content and response.model == INSTRUCT_MODEL
    ps = client.ps().models
    assert [m.model for m in ps] == [INSTRUCT_MODEL]  # one model loaded at a time: the last one used


def test_pull_streams_progress(client):
    assert client.pull(INSTRUCT_MODEL).status == "success"
    parts = list(client.pull(INSTRUCT_MODEL, stream=True))
    assert parts[0].status == "pulling manifest" and parts[-1].status == "success"
    layer = [p for p in parts if p.digest and p.total == 98362432]
    assert layer[0].status == f"pulling {layer[0].digest[7:19]}" and layer[0].completed is None
    completed = [p.completed for p in layer[1:]]
    assert len(completed) > 2 and completed == sorted(completed) and completed[-1] == 98362432


def test_pull_unknown_model_raises(client):
    with pytest.raises(ollama.ResponseError) as error:
        list(client.pull("no-such-model", stream=True))
    assert error.value.error == "pull model manifest: file does not exist"


def test_copy_create_chat_and_delete(client):
    try:
        assert client.copy(INSTRUCT_MODEL, "my-copy").status == "success"
        assert "my-copy:latest" in [m.model for m in client.list().models]
        system = "You are a patient teacher. Answer in one short sentence."
        statuses = [p.status for p in client.create("profe", from_=INSTRUCT_MODEL, system=system,
                                                    parameters={"temperature": 0.2}, stream=True)]
        assert statuses[-2:] == ["writing manifest", "success"]
        show = client.show("profe")
        assert "temperature                    0.2" in show.parameters  # (the client drops `system`: see the modelfile)
        assert f"SYSTEM {system}" in show.modelfile and show.details.parent_model == INSTRUCT_MODEL
        options = {"num_predict": 40, "temperature": 0}
        plain = client.chat(INSTRUCT_MODEL, messages=FRANCE, options=options)
        teacher = client.chat("profe", messages=FRANCE, options=options)
        # the model's SYSTEM is sent: "<|im_start|>system\n...<|im_end|>\n" is 4 tokens plus the system's
        assert teacher.prompt_eval_count > plain.prompt_eval_count + 10 and teacher.model == "profe"
        # its own system message replaces the model's
        own = client.chat("profe", messages=[{"role": "system", "content": "Hi"}, *FRANCE], options=options)
        assert own.prompt_eval_count < teacher.prompt_eval_count
    finally:
        for name in ("my-copy", "profe"):
            try:
                client.delete(name)
            except ollama.ResponseError:
                pass
    assert not {"my-copy:latest", "profe:latest"} & {m.model for m in client.list().models}


def test_delete_and_pull_again(client, bundled_models_back):
    assert client.delete(INSTRUCT_MODEL).status == "success"
    assert INSTRUCT_MODEL not in [m.model for m in client.list().models]
    with pytest.raises(ollama.ResponseError) as error:
        client.chat(INSTRUCT_MODEL, messages=FRANCE)
    assert error.value.status_code == 404
    assert client.pull(INSTRUCT_MODEL).status == "success"
    assert client.list().models[0].model == INSTRUCT_MODEL


@pytest.mark.parametrize("call,message", [
    (lambda c: c.chat(INSTRUCT_MODEL, messages=FRANCE, think=True), f'"{INSTRUCT_MODEL}" does not support thinking'),
    (lambda c: c.generate(INSTRUCT_MODEL, "hi", think="high"), f'"{INSTRUCT_MODEL}" does not support thinking'),
    (lambda c: c.chat(INSTRUCT_MODEL, messages=FRANCE, tools=[{"type": "function", "function": {
        "name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}}}]),
     f'"{INSTRUCT_MODEL}" does not support tools'),
    (lambda c: c.embed(INSTRUCT_MODEL, "hola"), f'"{INSTRUCT_MODEL}" does not support embeddings'),
    (lambda c: c.embeddings(BASE_MODEL, "hola"), f'"{BASE_MODEL}" does not support embeddings'),
])
def test_capability_errors(client, call, message):
    with pytest.raises(ollama.ResponseError) as error:
        call(client)
    assert (error.value.status_code, error.value.error) == (400, message)


def test_think_false_is_accepted(client):
    response = client.chat(INSTRUCT_MODEL, messages=FRANCE, think=False, options={"num_predict": 3})
    assert response.eval_count == 3


def test_format_with_a_schema_on_the_instruct_model(client):
    import json

    schema = {"type": "object", "properties": {"country": {"type": "string"}, "capital": {"type": "string"}},
              "required": ["country", "capital"]}
    response = client.chat(INSTRUCT_MODEL, messages=FRANCE, format=schema, options={"num_predict": 60, "temperature": 0})
    answer = json.loads(response.message.content)
    assert isinstance(answer["country"], str) and isinstance(answer["capital"], str)


@pytest.mark.parametrize("call", [
    lambda c: c.generate("llama3", "hi"),
    lambda c: c.chat("llama3", messages=[{"role": "user", "content": "hi"}]),
    lambda c: c.show("llama3"),
    lambda c: c.delete("llama3"),
])
def test_unknown_model_is_a_404_response_error(client, call):
    with pytest.raises(ollama.ResponseError) as error:
        call(client)
    assert error.value.status_code == 404 and error.value.error == "model 'llama3' not found"


def test_images_are_a_400_response_error(client):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    with pytest.raises(ollama.ResponseError) as error:
        client.generate(BASE_MODEL, "Describe", images=[png])
    assert error.value.status_code == 400 and "llava" in error.value.error
