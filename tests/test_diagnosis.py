"""Today's errors (Ollama v0.33) told apart by the client and explained: a capability the model lacks,
out of memory (hyphenated since 0.33), a busy server, and a 403 from Ollama's Host/Origin checks.
The messages are the server's own words (server/routes.go, server/images.go, server/sched.go,
llm/llama_server.go)."""
import json

import pytest

from lib import i18n
from lib.client import (CapabilityMissing, Forbidden, InputTooLong, OllamaClient, OutOfMemory, ServerBusy,
                        ServerError, StreamError, server_error)
from lib.diagnosis import Diagnosis, diagnose
from lib.ollama_facts import CAPABILITIES

URL = "http://127.0.0.1:11434"
BUSY = "server busy, please try again.  maximum pending requests exceeded"
NEW_KINDS = ["capability", *(f"capability_{name}" for name in CAPABILITIES), "busy", "forbidden", "input_too_long"]


@pytest.mark.parametrize("message, model, capabilities", [
    ('"gemma3:270m" does not support thinking', "gemma3:270m", ("thinking",)),
    ("registry.ollama.ai/library/gemma3:270m does not support tools", "registry.ollama.ai/library/gemma3:270m",
     ("tools",)),
    ('"nomic-embed-text" does not support chat', "nomic-embed-text", ("completion",)),
    ('"all-minilm" does not support generate', "all-minilm", ("completion",)),
    ('"gemma3:270m" does not support embeddings', "gemma3:270m", ("embedding",)),
    ("registry.ollama.ai/library/all-minilm:latest does not support completion\ntools",
     "registry.ollama.ai/library/all-minilm:latest", ("completion", "tools")),
    ("registry.ollama.ai/library/qwen3:0.6b does not support thinking. Pull the model again to get the latest "
     "version with full thinking support", "registry.ollama.ai/library/qwen3:0.6b", ("thinking",)),
    ("registry.ollama.ai/library/gemma3:270m does not support image generation",
     "registry.ollama.ai/library/gemma3:270m", ("image",)),
    ("hf.co/bartowski/Model-GGUF:Q4_K_M does not support vision", "hf.co/bartowski/Model-GGUF:Q4_K_M", ("vision",)),
])
def test_capability_errors_are_recognised(message, model, capabilities):
    error = server_error(message, 400)
    assert isinstance(error, CapabilityMissing)
    assert (error.model, error.capabilities, error.status) == (model, capabilities, 400)


@pytest.mark.parametrize("message", [
    "raw mode does not support template, system, or context",
    "Deepseek2 does not support K-shift",
    '"m" does not support everything',
])
def test_other_does_not_support_messages_are_not_capabilities(message):
    assert type(server_error(message, 400)) is ServerError


@pytest.mark.parametrize("message", [
    "llama-server reported out-of-memory during startup: exit status 1",
    "model requires more system memory (5.6 GiB) than is available (3.1 GiB)",
    "CUDA error: out of memory",
    "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 1024.00 MiB on device 0: cudaMalloc failed: out of memory",
    "failed to allocate compute buffers",
    "insufficient memory - required allocations: {...}",
    "kIOGPUCommandBufferCallbackErrorOutOfMemory",
    "VK_ERROR_OUT_OF_DEVICE_MEMORY",
])
def test_out_of_memory_in_todays_and_older_words(message):
    assert isinstance(server_error(message, 500), OutOfMemory)


def test_out_of_memory_mid_stream_is_out_of_memory_too():
    assert isinstance(server_error("llama-server reported out-of-memory during startup", 200, in_stream=True),
                      OutOfMemory)
    assert isinstance(server_error("something else", 200, in_stream=True), StreamError)


def test_busy_forbidden_and_too_long():
    assert isinstance(server_error(BUSY, 503), ServerBusy)
    assert isinstance(server_error("Forbidden", 403), Forbidden)
    assert isinstance(server_error("", 403), Forbidden)
    assert isinstance(server_error("the input length exceeds the context length", 400), InputTooLong)
    # a 403 that says why (Ollama's cloud switch) is the server's own message, not a Host check
    cloud = server_error("remote inference is unavailable: cloud features are disabled", 403)
    assert type(cloud) is ServerError and diagnose(cloud, URL).kind == "http_error"


# ------------------------------------------------------------------------------ over HTTP
def test_todays_errors_over_the_wire(fake_ollama):
    client = OllamaClient(fake_ollama.url)
    fake_ollama.reply("POST", "/api/chat", 400, {"error": '"gemma3:270m" does not support thinking'})
    with pytest.raises(CapabilityMissing) as missing:
        client.chat("gemma3:270m", [{"role": "user", "content": "hi"}], think=True)
    assert missing.value.exchange.status == 400
    fake_ollama.reply("POST", "/api/chat", 503, {"error": BUSY})
    with pytest.raises(ServerBusy):
        client.chat("gemma3:270m", [])
    fake_ollama.raw("GET", "/api/tags", b"", status=403)  # allowedHostsMiddleware: AbortWithStatus(403)
    with pytest.raises(Forbidden):
        client.tags()
    fake_ollama.stream("POST", "/api/generate", [
        json.dumps({"error": "llama-server reported out-of-memory during startup"})])
    with pytest.raises(OutOfMemory):
        list(client.generate("gemma3:270m", "hi"))


# ------------------------------------------------------------------------------ the advice
@pytest.mark.parametrize("message, kind, model, command", [
    ('"gemma3:270m" does not support thinking', "capability_thinking", "gemma3:270m", "ollama pull qwen3:0.6b"),
    ("registry.ollama.ai/library/gemma3:270m does not support tools", "capability_tools", "gemma3:270m",
     "ollama pull qwen3:0.6b"),
    ('"gemma3:270m" does not support embeddings', "capability_embedding", "gemma3:270m",
     "ollama pull embeddinggemma"),
    ('"nomic-embed-text" does not support chat', "capability_completion", "nomic-embed-text:latest",
     "ollama pull gemma3:270m"),
    ("registry.ollama.ai/library/llama2:latest does not support vision", "capability_vision", "llama2:latest",
     "ollama pull llava"),
    ('"m" does not support insert', "capability_insert", "m:latest", None),
])
def test_capability_diagnosis_says_what_and_which_models_can(message, kind, model, command):
    diagnosis = diagnose(server_error(message, 400), URL)
    assert diagnosis.kind == kind and diagnosis.values["model"] == model and diagnosis.detail == message
    assert diagnosis.commands[0] == f"ollama show {model}"
    if command:
        assert diagnosis.commands[1] == command
    else:
        assert len(diagnosis.commands) == 1


def test_a_capability_without_its_own_text_gets_the_general_one():
    error = CapabilityMissing('"m" does not support x', 400, "m", ("teleport",))
    diagnosis = diagnose(error, URL)
    assert diagnosis.kind == "capability" and diagnosis.values["capability"] == "teleport"
    assert i18n.translate("en", diagnosis.title_key, **diagnosis.values) == 'The model "m:latest" cannot do this (teleport)'


@pytest.mark.parametrize("error, kind, command", [
    (server_error("llama-server reported out-of-memory during startup", 500), "out_of_memory", "free -h"),
    (server_error(BUSY, 503), "busy", "OLLAMA_NUM_PARALLEL=2 OLLAMA_MAX_QUEUE=1024 ollama serve"),
    (server_error("Forbidden", 403), "forbidden", "OLLAMA_HOST=0.0.0.0:11434 ollama serve"),
    (server_error("the input length exceeds the context length", 400), "input_too_long", None),
])
def test_todays_server_errors_diagnosed(error, kind, command):
    diagnosis = diagnose(error, URL)
    assert diagnosis.kind == kind
    if command:
        assert command in diagnosis.commands


def test_forbidden_points_at_the_server_asked():
    diagnosis = diagnose(server_error("Forbidden", 403), URL)
    assert f"curl -i {URL}/api/version" in diagnosis.commands
    assert i18n.translate("es", diagnosis.title_key, **diagnosis.values) == \
        f"El servidor en {URL} rechazó la petición (403, sin mensaje)"


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_every_new_diagnosis_has_both_texts(kind):
    diagnosis = Diagnosis(kind, "detail")
    for lang in i18n.LANGUAGES:
        assert diagnosis.title_key in i18n.catalog(lang) and diagnosis.advice_key in i18n.catalog(lang)


@pytest.mark.parametrize("lang, title, advice_part", [
    ("en", '"gemma3:270m" cannot think (`think`)', "a thinking model such as qwen3:0.6b, deepseek-r1:1.5b"),
    ("es", "«gemma3:270m» no puede razonar (`think`)", "un modelo que razone, como qwen3:0.6b, deepseek-r1:1.5b"),
])
def test_capability_texts_in_both_languages(lang, title, advice_part):
    diagnosis = diagnose(server_error('"gemma3:270m" does not support thinking', 400), URL)
    assert i18n.translate(lang, diagnosis.title_key, **diagnosis.values) == title
    assert advice_part in i18n.translate(lang, diagnosis.advice_key, **diagnosis.values)


@pytest.mark.parametrize("lang, words", [
    ("en", ("OLLAMA_NUM_PARALLEL", "OLLAMA_MAX_QUEUE", "try again")),
    ("es", ("OLLAMA_NUM_PARALLEL", "OLLAMA_MAX_QUEUE", "vuelve a intentarlo")),
])
def test_busy_advice_names_the_settings(lang, words):
    advice = i18n.translate(lang, "diag.busy.advice")
    assert all(word in advice for word in words)
