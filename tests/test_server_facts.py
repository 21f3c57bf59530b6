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


def test_checks_against_the_fake(fake_ollama, closed_port):
    client = OllamaClient(fake_ollama.url)
    assert server_checks.check_server(client) == server_checks.Check(
        True, "check.server.up", {"url": fake_ollama.url, "version": "0.33.0"})
    models = server_checks.check_models(client)
    assert models.passed and models.values["names"] == "gemma:2b, llava:latest"
    fake_ollama.reply("GET", "/api/tags", body={"models": []})
    assert server_checks.check_models(client).key == "check.models.none"
    assert server_checks.check_server(OllamaClient(closed_port)).key == "check.server.down"
    fake_ollama.reply("GET", "/api/version", body={"version": "0.33.0", "builtin": {"engine": "llama.cpp"}})
    assert server_checks.check_server(client).key == "check.server.builtin"


def test_shared_check(fake_ollama, closed_port):
    address = fake_ollama.url.removeprefix("http://")
    assert server_checks.check_shared(address, "", AllowList()).key == "check.shared.ok"
    assert server_checks.check_shared(address, "http://aula.example", AllowList()).key == "check.shared.ok"
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
    keys = [key for _, key, _ in server_log.annotate(server_log.EXAMPLE)]
    assert keys.count("log.listening") == 1 and "log.no_gpu" in keys and "log.no_driver" in keys
    assert "log.avx2" in keys and "log.runners" in keys
    listening = next(v for _, k, v in server_log.annotate(server_log.EXAMPLE) if k == "log.listening")
    assert listening == {"address": "127.0.0.1:11434", "version": "0.1.32"}
    request = server_log.annotate('[GIN] 2024/04/30 - 15:07:48 | 200 |  7.046967594s |       127.0.0.1 | POST     "/api/generate"')
    assert request[0][1:] == ("log.request", {"status": "200", "time": "7.046967594s", "path": "/api/generate"})
    assert server_log.annotate("hello\nworld") == []


@pytest.mark.parametrize("error, kind, commands", [
    (CannotConnect("x", "refused"), "refused", "ollama serve"),
    (CannotConnect("x", "dns"), "dns", None),
    (RequestTimeout("x", "connect"), "timeout_connect", None),
    (RequestTimeout("x", "read"), "timeout_read", None),
    (NotOllama("x"), "not_ollama", None),
    (ModelNotFound("model 'llava' not found", 404, "llava"), "model_not_found", "ollama pull llava"),
    (OutOfMemory("model requires more system memory", 500), "out_of_memory", "free -h"),
    (ServerError("boom", 500), "http_error", None),
    (HostError("host.error.port", "localhost:abc"), "host_port", None),
])
def test_diagnosis_kinds(error, kind, commands):
    diagnosis = diagnose(error, "http://127.0.0.1:11434")
    assert diagnosis.kind == kind
    if commands:
        assert commands in diagnosis.commands
