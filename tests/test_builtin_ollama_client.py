"""The official `ollama` Python client as the judge of the built-in server's compatibility."""
from __future__ import annotations

import datetime as dt

import ollama
import pytest

from lib.builtin_server import MODEL_NAME

pytestmark = pytest.mark.builtin

OPTIONS = {"num_predict": 8, "seed": 11, "temperature": 0.7}


@pytest.fixture(scope="module")
def client(builtin_server) -> ollama.Client:
    return ollama.Client(host=builtin_server.url, timeout=120)


def test_list(client):
    models = client.list().models
    assert [m.model for m in models] == [MODEL_NAME]
    assert models[0].size == 253113024 and isinstance(models[0].modified_at, dt.datetime)
    assert models[0].details.family == "gemma3" and models[0].details.quantization_level == "Q4_K_M"


def test_show(client):
    show = client.show(MODEL_NAME)
    assert show.capabilities == ["completion"]
    assert show.modelinfo["general.architecture"] == "gemma3"
    assert show.details.parameter_size == "268.10M"
    assert "<start_of_turn>" in show.template and isinstance(show.modified_at, dt.datetime)


def test_generate_and_ps(client):
    response = client.generate(MODEL_NAME, "The capital of France is", options=OPTIONS)
    assert response.done and response.done_reason == "length" and response.eval_count == 8
    assert response.response and response.total_duration > response.eval_duration > 0
    assert response.context[-8:] and len(response.context) == response.prompt_eval_count + 8
    [running] = client.ps().models
    assert running.model == MODEL_NAME and running.size_vram == 0 and running.context_length == 4096
    assert running.expires_at > dt.datetime.now(dt.timezone.utc)


def test_generate_streamed_matches_the_single_answer(client):
    parts = list(client.generate(MODEL_NAME, "Once upon a time", options=OPTIONS, stream=True))
    assert [p.done for p in parts] == [False] * (len(parts) - 1) + [True]
    single = client.generate(MODEL_NAME, "Once upon a time", options=OPTIONS)
    assert "".join(p.response for p in parts) == single.response


def test_chat(client):
    messages = [{"role": "user", "content": "Hola, ¿qué tal?"}]
    response = client.chat(MODEL_NAME, messages=messages, options=OPTIONS)
    assert response.message.role == "assistant" and response.done_reason in ("stop", "length")
    assert response.eval_count <= 8 and response.prompt_eval_count > 5
    parts = list(client.chat(MODEL_NAME, messages=messages, options=OPTIONS, stream=True))
    assert "".join(p.message.content for p in parts) == response.message.content
    assert parts[-1].done and all(p.message.role == "assistant" for p in parts)


def test_pull(client):
    assert client.pull(MODEL_NAME).status == "success"
    statuses = [p.status for p in client.pull(MODEL_NAME, stream=True)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"


def test_pull_unknown_model_raises(client):
    with pytest.raises(ollama.ResponseError) as error:
        list(client.pull("no-such-model", stream=True))
    assert error.value.error == "pull model manifest: file does not exist"


def test_delete_is_refused(client):
    with pytest.raises(ollama.ResponseError) as error:
        client.delete(MODEL_NAME)
    assert error.value.status_code == 403 and "cannot be deleted" in error.value.error


def test_copy_is_refused(client):
    with pytest.raises(ollama.ResponseError) as error:
        client.copy(MODEL_NAME, "my-copy")
    assert error.value.status_code == 403


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
        client.generate(MODEL_NAME, "Describe", images=[png])
    assert error.value.status_code == 400 and "llava" in error.value.error
