"""Formatting, diagnosis, `ollama ps` rows, the guide's checks and the start-up log reading."""
from datetime import datetime, timedelta, timezone

import pytest

from lib import formatting, server_checks, server_log
from lib.client import CannotConnect, ModelNotFound, NotOllama, OllamaClient, OutOfMemory, RequestTimeout, ServerError
from lib.diagnosis import diagnose
from lib.hosts import AllowList, HostError

NOW = datetime(2024, 4, 30, 15, 20, tzinfo=timezone.utc)


@pytest.mark.parametrize("size, text", [(1678456656, "1.7 GB"), (8400, "8.4 KB"), (136, "136 B"),
                                        (39_000_000_000, "39.0 GB"), (None, "—")])
def test_sizes_like_ollama_list(size, text):
    assert formatting.human_bytes(size) == text


def test_timestamps_with_nanoseconds_and_ages():
    parsed = formatting.parse_timestamp("2024-04-30T15:18:52.51818509Z")
    assert parsed == datetime(2024, 4, 30, 15, 18, 52, 518185, tzinfo=timezone.utc)
    assert formatting.age_parts(NOW - timedelta(seconds=41), NOW) == (41, "seconds")
    assert formatting.age_parts(NOW + timedelta(minutes=4, seconds=59), NOW) == (4, "minutes")
    assert formatting.age_parts(NOW - timedelta(days=800), NOW) == (2, "years")
    assert formatting.parse_timestamp("yesterday") is None


@pytest.mark.parametrize("size, vram, text", [(100, 0, "100% CPU"), (100, 100, "100% GPU"),
                                              (100, 52, "48%/52% CPU/GPU"), (0, 0, "100% CPU")])
def test_processor_split(size, vram, text):
    assert server_checks.processor(size, vram) == text


def test_loaded_models_rows():
    ps = {"models": [
        {"name": "gemma:2b", "size": 2_500_000_000, "size_vram": 0, "context_length": 4096,
         "expires_at": "2024-04-30T15:24:30.1Z"},
        {"name": "llava", "size": 5_000_000_000, "size_vram": 5_000_000_000,
         "expires_at": "2318-08-29T21:47:12.1Z"},
    ]}
    first, second = server_checks.loaded_models(ps, NOW)
    assert (first.name, first.size, first.processor, first.context_length, first.until) == \
        ("gemma:2b", "2.5 GB", "100% CPU", 4096, (4, "minutes"))
    assert second.until is None and second.processor == "100% GPU"  # keep_alive < 0: forever
    assert server_checks.loaded_models({"models": []}) == []
    assert server_checks.loaded_models(ps, NOW, "es")[0].size == "2,5 GB"


def test_checks_against_the_fake(fake_ollama, closed_port):
    client = OllamaClient(fake_ollama.url)
    assert server_checks.check_server(client) == server_checks.Check(
        True, "check.server.up", {"url": fake_ollama.url, "version": "0.33.0"})
    models = server_checks.check_models(client)
    assert models.passed and models.values["names"] == "gemma:2b, llava:latest"
    assert models.key == "check.models.some"
    fake_ollama.reply("GET", "/api/tags", body={"models": [{"name": "gemma:2b"}]})
    assert server_checks.check_models(client).key == "check.models.one"
    fake_ollama.reply("GET", "/api/tags", body={"models": []})
    assert server_checks.check_models(client).key == "check.models.none"
    assert server_checks.check_server(OllamaClient(closed_port)).key == "check.server.down"
    fake_ollama.reply("GET", "/api/version", body={"version": "0.33.0", "builtin": {"engine": "llama.cpp"}})
    assert server_checks.check_server(client).key == "check.server.builtin"


def test_shared_check(fake_ollama, closed_port):
    address = fake_ollama.url.removeprefix("http://")
    assert server_checks.check_shared(address, "", AllowList()).key == "check.shared.ok"  # no origin claimed
    accepted = server_checks.check_shared(address, "http://aula.example", AllowList())
    assert (accepted.key, accepted.values["origin"]) == ("check.shared.origin_ok", "http://aula.example")
    fake_ollama.allowed_origins = ("http://localhost:8501",)
    assert server_checks.check_shared(address, "http://aula.example", AllowList()).key == "check.shared.origin_refused"
    assert server_checks.check_shared("localhost:abc", "", AllowList()).key == "check.shared.bad_address"
    assert server_checks.check_shared(closed_port, "", AllowList()).key == "check.shared.unreachable"
    refused = server_checks.check_shared(address, "", AllowList(("http://other:11434",)))
    assert refused.key == "check.shared.bad_address"


def test_cli_check_reports_missing_ollama(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert server_checks.check_cli().key == "check.cli.missing"


def test_the_course_log_is_read():
    """Ollama 0.1.32 (course sections 2.1 and 2.3): the runners line is not the CPU's AVX2, and the
    CUDA runtime being found is not the runners; no fence line from the course's Markdown."""
    notes = server_log.annotate(server_log.EXAMPLE)
    assert not server_log.EXAMPLE.startswith("```")
    by_text = {key: line for line, key, _ in notes}
    assert "Dynamic LLM libraries" in by_text["log.runners"]
    assert "CPU has AVX2" in by_text["log.avx2"]
    assert "libcudart.so.11.0]" in by_text["log.gpu_libraries"]
    assert by_text["log.gpu_libraries_none"].endswith('msg="Discovered GPU libraries: []"')
    assert [key for _, key, _ in notes] == [
        "log.blobs", "log.blobs", "log.listening", "log.runners", "log.gpu_libraries", "log.no_driver",
        "log.gpu_libraries_none", "log.avx2", "log.no_gpu", "log.timings_prompt", "log.timings_eval", "log.request"]
    values = {key: found for _, key, found in notes}
    assert values["log.listening"] == {"address": "127.0.0.1:11434", "version": "0.1.32"}
    assert values["log.timings_prompt"] == {"ms": 1442.30, "tokens": 18, "rate": 12.48}
    assert values["log.timings_eval"] == {"ms": 3389.28, "tokens": 22, "rate": 6.49}  # "22 runs"
    request = server_log.annotate('[GIN] 2024/04/30 - 15:07:48 | 200 |  7.046967594s |       127.0.0.1 | POST     "/api/generate"')
    assert request[0][1:] == ("log.request", {"status": 200, "time": "7.046967594s", "path": "/api/generate"})
    assert server_log.annotate("hello\nworld") == []


def test_a_v033_cpu_log_is_read():
    """Today's lines: `inference compute ... library=cpu` is the CPU-only signal, the VRAM-based
    num_ctx, llama-server's layer offload, KV cache and print_timings, and the load time."""
    notes = server_log.annotate(server_log.EXAMPLES["cpu-v0.33"])
    assert [key for _, key, _ in notes] == [
        "log.config", "log.blobs", "log.blobs", "log.listening", "log.cpu_only", "log.default_ctx", "log.memory",
        "log.offload_none", "log.model_buffer", "log.kv_buffer", "log.loaded", "log.timings_prompt", "log.timings_eval",
        "log.request"]
    values = {key: found for _, key, found in notes}
    assert values["log.listening"] == {"address": "127.0.0.1:11434", "version": "0.33.0"}
    assert values["log.default_ctx"] == {"num_ctx": 4096}
    assert values["log.memory"] == {"total": "15.5 GiB", "free": "12.7 GiB"}
    assert values["log.offload_none"] == {"total": 27}
    assert values["log.loaded"] == {"seconds": 2.31}
    assert values["log.timings_eval"] == {"ms": 3958.40, "tokens": 97, "rate": 24.50}
    # 97 tokens in 3958.40 ms: the same speed as eval_count / eval_duration in the API's answer
    assert round(97 / 3.9584, 2) == 24.50


def test_a_v033_gpu_log_is_read():
    """The course's section 2.2 ("pendiente"): the same load and request on an NVIDIA GPU."""
    notes = server_log.annotate(server_log.EXAMPLES["gpu-v0.33"])
    assert [key for _, key, _ in notes] == [
        "log.config", "log.blobs", "log.blobs", "log.listening", "log.gpu", "log.default_ctx", "log.memory",
        "log.gpu_memory", "log.offload_all", "log.model_buffer", "log.model_buffer", "log.kv_buffer", "log.loaded",
        "log.timings_prompt", "log.timings_eval", "log.request"]
    values = [found for _, _, found in notes]
    assert values[4] == {"library": "CUDA"} and values[8] == {"total": 27}
    assert values[9] == {"device": "CUDA0", "size": "762.49 MiB"} and values[10]["device"] == "CPU_Mapped"
    assert values[14] == {"ms": 731.62, "tokens": 97, "rate": 132.58}


@pytest.mark.parametrize("line, key, found", [
    ('msg="inference compute" id=GPU-5a1b library=CUDA compute=8.9 name=CUDA0 total="16.0 GiB"', "log.gpu",
     {"library": "CUDA"}),
    ('msg="inference compute" id=0 library=Metal name=Metal total="21.3 GiB"', "log.gpu", {"library": "Metal"}),
    ('msg="inference compute" id=00000000-0300 library=Vulkan name=Vulkan0 total="8.0 GiB"', "log.vulkan", {}),
    ("load_tensors: offloaded 20/29 layers to GPU", "log.offload", {"gpu": 20, "total": 29}),
    ('msg="Listening on [::]:11434 (version 0.33.0)"', "log.listening", {"address": "[::]:11434", "version": "0.33.0"}),
    ("Error: listen tcp 127.0.0.1:11434: bind: address already in use", "log.port_in_use", {}),
])
def test_todays_gpu_and_error_lines(line, key, found):
    assert server_log.annotate(line) == [(line, key, found)]


@pytest.mark.parametrize("error, kind, commands", [
    (CannotConnect("x", "refused"), "refused", "ollama serve"),
    (CannotConnect("x", "dns"), "dns", None),
    (RequestTimeout("x", "connect"), "timeout_connect", None),
    (RequestTimeout("x", "read"), "timeout_read", None),
    (NotOllama("x"), "not_ollama", None),
    (ModelNotFound("model 'llava' not found", 404, "llava"), "model_not_found", "ollama pull llava"),
    (OutOfMemory("model requires more system memory", 500), "out_of_memory", "free -h"),
    (OutOfMemory("llama-server reported out-of-memory during startup", 500), "out_of_memory", "ollama ps"),
    (ServerError("boom", 500), "http_error", None),
    (HostError("host.error.port", "localhost:abc"), "host_port", None),
])
def test_diagnosis_kinds(error, kind, commands):
    diagnosis = diagnose(error, "http://127.0.0.1:11434")
    assert diagnosis.kind == kind
    if commands:
        assert commands in diagnosis.commands
