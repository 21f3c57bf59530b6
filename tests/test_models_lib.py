"""lib/catalog.py, lib/models.py, lib/library.py and lib/pull.py: pure functions over the server's
JSON, and the pull follower (no Streamlit)."""
import json
import threading
import time
from datetime import datetime, timezone

import pytest

from lib import catalog, library, models
from lib.client import OllamaClient, StreamError
from lib.pull import PullFollower, PullProgress
from tests.plugins.fake_ollama import TAGS, fixture_lines, show_body

NOW = datetime(2024, 4, 30, 15, 6, 53, 600000, tzinfo=timezone.utc)


def test_catalog_names_every_model_of_the_course():
    tags = {m.tag for m in catalog.load_catalog()}
    course = {"llama2:7b", "llama2:13b", "llama2:70b", "mistral:7b", "dolphin-phi", "phi", "neural-chat",
              "starling-lm", "codellama", "llama2-uncensored", "orca-mini", "vicuna", "llava", "gemma:2b",
              "gemma:7b", "solar", "llama3:8b", "llama3:70b", "llama3:text", "llama3:70b-text", "phi3"}
    assert course <= tags
    assert {m.tag for m in catalog.load_catalog() if m.course} == course
    small_vision = catalog.select(catalog.load_catalog(), "vision", fits_in_gb=4)
    assert {m.tag for m in small_vision} == {"moondream", "llava-phi3"}


def test_catalog_row_facts():
    llava = next(m for m in catalog.load_catalog() if m.tag == "llava")
    assert (llava.parameters, llava.size_gb, llava.purposes) == ("7B", 4.7, ("vision", "chat"))
    assert llava.run_command == "ollama run llava" and llava.pull_command == "ollama pull llava"
    assert all(m.memory_gb >= m.size_gb for m in catalog.load_catalog())


def test_catalog_marks_what_the_builtin_server_can_install():
    every = catalog.load_catalog()
    assert [m.tag for m in every if m.builtin] == ["smollm2:135m", "gemma3:270m-base"]
    smollm2, gemma_base = (next(m for m in every if m.tag == tag) for tag in ("smollm2:135m", "gemma3:270m-base"))
    # Ollama's library smollm2:135m is 271 MB; the built-in server bundles its own 98,374,989-byte file
    assert (smollm2.size_gb, smollm2.parameters, smollm2.purposes) == (0.271, "135M", ("chat",))
    assert "98 MB" in smollm2.size_source
    assert (gemma_base.size_gb, gemma_base.parameters, gemma_base.purposes) == (0.253, "270M", ("completion",))
    assert not next(m for m in every if m.tag == "gemma3:270m").builtin  # Ollama's instruct one is not bundled
    assert [m.tag for m in catalog.select(every, "completion")] == ["llama3:text", "llama3:70b-text", "gemma3:270m-base"]


def test_catalog_data_can_grow_new_fields(monkeypatch, tmp_path):
    data = {"models": [{"id": "x", "tag": "x:1b", "name": "X", "parameters": "1B", "size_gb": 0.8,
                        "memory_gb": 2, "purposes": ["chat"], "course": False, "released": "2026-01"}]}
    (tmp_path / "catalog.json").write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(catalog, "CATALOG_PATH", tmp_path / "catalog.json")
    catalog.load_catalog.cache_clear()
    try:
        assert [m.tag for m in catalog.load_catalog()] == ["x:1b"]
    finally:
        catalog.load_catalog.cache_clear()


def test_builtin_models_from_its_version_answer():
    builtin = {"name": "Ollama Course Companion built-in server", "model": "smollm2:135m",
               "models": ["smollm2:135m", "gemma3:270m-base", 7, None]}
    assert library.builtin_models(builtin) == ["smollm2:135m", "gemma3:270m-base"]  # server text: strings only
    assert library.builtin_models({"models": "smollm2:135m"}) == [] and library.builtin_models({}) == []
    assert library.builtin_can_install("gemma3:270m-base", builtin)
    assert library.builtin_can_install("SmolLM2:135m", builtin)
    assert not library.builtin_can_install("llama3", builtin) and not library.builtin_can_install("gemma3:270m", builtin)


@pytest.mark.parametrize("name, listed", [("profe", "profe:latest"), ("Profe:latest", "profe:latest"),
                                          ("smollm2:135m", "smollm2:135m"), ("profe:v2", None), ("", None),
                                          ("bad name", None)])
def test_installed_name_as_the_server_lists_it(name, listed):
    assert library.installed_name(name, ["smollm2:135m", "profe:latest"]) == listed


def test_filters():
    every = catalog.load_catalog()
    assert all("code" in m.purposes for m in catalog.select(every, "code"))
    assert all(m.memory_gb <= 8 for m in catalog.select(every, fits_in_gb=8))
    assert not any(m.tag == "llama2:70b" for m in catalog.select(every, fits_in_gb=16))
    assert all(m.course for m in catalog.select(every, course_only=True))


@pytest.mark.parametrize("a, b, same", [("llava", "llava:latest", True), ("Gemma:2B", "gemma:2b", True),
                                        ("gemma:2b", "gemma:7b", False), ("llama3", "llama3:8b", False)])
def test_same_model(a, b, same):
    assert catalog.same_model(a, b) is same


@pytest.mark.parametrize("tag, names, installed", [
    ("llava", ["gemma:2b", "llava:latest"], True), ("LLaVA", ["llava:latest"], True),
    ("llava-phi3", ["llava:latest"], False), ("gemma:2b", ["registry.ollama.ai/library/gemma:2b"], True),
    ("llama3", ["llama3:8b"], False), ("phi3", ["user/phi3:latest"], False),
    ("qwen2.5-coder:1.5b", ["Qwen2.5-Coder:1.5B", "x y"], True), ("phi", [], False)])
def test_a_catalog_tag_is_installed_as_ollama_compares_names(tag, names, installed):
    assert library.is_installed(tag, library.installed_set(names)) is installed


def test_digests_by_name():
    assert library.digests(TAGS) == {"gemma:2b": TAGS["models"][0]["digest"],
                                     "llava:latest": TAGS["models"][1]["digest"]}
    assert library.digests({}) == {}


def test_local_servers_and_memory():
    assert catalog.is_local("http://127.0.0.1:11434") and catalog.is_local("http://localhost:1")
    assert not catalog.is_local("http://aula.example:11434")
    assert catalog.machine_memory_gb() > 0.5


@pytest.mark.parametrize("name", ["llama2", "llama2:7b", "gemma3:270m-base", "hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M",
                                  "registry.ollama.ai/library/llava:latest", "localhost:5000/ns/m:v1", "qwen2.5-coder:1.5b"])
def test_valid_names(name):
    assert models.check_name(f"  {name} ") == name


@pytest.mark.parametrize("name, key", [("", "models.name.empty"), ("   ", "models.name.empty"),
                                       ("llama 2", "models.name.spaces"), ("llama2::7b", "models.name.invalid"),
                                       ("llama2:", "models.name.invalid"), (":7b", "models.name.invalid"),
                                       ("rm -rf /", "models.name.spaces"), ("llama2;ls", "models.name.invalid"),
                                       ("../etc/passwd", "models.name.invalid")])
def test_refused_names(name, key):
    with pytest.raises(models.NameRefused) as caught:
        models.check_name(name)
    assert caught.value.key == key


def test_read_only_mode():
    assert models.read_only({"COMPANION_READ_ONLY": "1"}) and models.read_only({"COMPANION_READ_ONLY": "true"})
    assert not models.read_only({}) and not models.read_only({"COMPANION_READ_ONLY": "0"})
    with pytest.raises(models.ReadOnlyMode):
        models.ensure_writable({"COMPANION_READ_ONLY": "yes"})


def test_installed_rows_like_ollama_list():
    first, second = models.installed_models(TAGS, NOW)
    assert (first.name, first.id, first.size_gb, first.modified_ago) == ("gemma:2b", "b50d6c999e59", 1.7, (41, "seconds"))
    assert (first.family, first.parameter_size, first.quantization) == ("gemma", "3B", "Q4_0")
    assert second.name == "llava:latest" and second.size_gb == 4.7
    assert models.installed_models({"models": []}) == []


def test_details_from_show():
    details = models.model_details(show_body("llava"))
    assert details.capabilities == ("completion", "vision") and details.context_length == 8192
    assert details.template.startswith("<start_of_turn>") and details.license == "Gemma Terms of Use"


def test_details_from_an_old_server_without_capabilities():
    old = show_body("gemma:2b")
    del old["capabilities"]
    old["model_info"] = {"general.architecture": "gemma", "llama.context_length": 2048}
    details = models.model_details(old)
    assert details.capabilities is None and details.context_length == 2048


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_pull_progress_follows_the_layers():
    clock = Clock()
    progress = PullProgress(clock=clock)
    lines = [json.loads(line) for line in fixture_lines("pull-gemma-2b")]
    for chunk in lines[:6]:  # manifest, the big layer announced, then 4 of 8 steps
        clock.now += 1
        progress.update(chunk)
    big = progress.layers[lines[1]["digest"]]
    assert big.short == "c1864a5eb193" and big.fraction == 0.5
    assert progress.fraction == pytest.approx(0.5)
    assert progress.speed == pytest.approx(1678447520 / 8)  # a step a second
    assert progress.seconds_left == pytest.approx(4, abs=0.01)
    for chunk in lines[6:]:
        progress.update(chunk)
    assert len(progress.layers) == 5 and progress.done and progress.fraction == 1.0
    assert progress.total == 1678447520 + 8433 + 136 + 84 + 483
    assert progress.statuses[-4:] == ["verifying sha256 digest", "writing manifest",
                                      "removing any unused layers", "success"]
    assert progress.seconds_left is None


def test_pull_progress_without_completed_field_and_no_division_by_zero():
    progress = PullProgress(clock=Clock())
    progress.update({"status": "pulling abc", "digest": "sha256:abc", "total": 0})
    assert progress.fraction == 0.0 and progress.speed is None and progress.seconds_left is None


# ------------------------------------------------------------------------ the pull follower
class FakeStream:
    """Pull lines arriving every `step` seconds of `clock`; records whether it was closed."""

    def __init__(self, lines, clock, step=0.06):
        self.chunks = [json.loads(line) for line in lines]
        self.clock, self.step = clock, step
        self.exchange = object()
        self.stopped = False

    def __iter__(self):
        for chunk in self.chunks:
            if self.stopped:
                return
            self.clock.now += self.step
            yield chunk

    def close(self):
        self.stopped = True


class FakeClient:
    def __init__(self, stream):
        self.stream, self.pulled = stream, []

    def pull(self, name):
        self.pulled.append(name)
        return self.stream


def follower(lines=None, clock=None, **options):
    clock = clock or Clock()
    stream = FakeStream(fixture_lines("pull-gemma-2b") if lines is None else lines, clock)
    return PullFollower(FakeClient(stream), "gemma:2b", clock=clock, **options), stream, clock


def test_follower_hands_out_progress_at_most_every_quarter_second_and_the_end():
    pull, stream, clock = follower()  # 22 lines, one every 60 ms: 1.32 s
    drawn = [(clock.now, progress.fraction, progress.done) for progress in pull]
    times = [when for when, _, _ in drawn]
    assert len(drawn) == 6 and times[0] == pytest.approx(0.06)  # the first line at once, not 22 redraws
    assert all(later - earlier >= 0.25 for earlier, later in zip(times, times[1:-1]))
    assert drawn[-1][1:] == (1.0, True) and times[-1] == pytest.approx(1.32)  # the end, always
    assert pull.finished and pull.succeeded and pull.error is None and pull.exchange is stream.exchange
    assert stream.stopped  # closed once done


def test_cancel_closes_the_stream_and_the_pull_is_not_finished():
    pull, stream, _ = follower()
    for progress in pull:
        pull.cancel()
    assert stream.stopped and stream.chunks  # closed before its end
    assert progress.fraction < 1 and not pull.finished and not pull.succeeded and pull.error is None


def test_a_rerun_that_interrupts_the_drawing_closes_the_stream():
    pull, stream, _ = follower()
    with pytest.raises(RuntimeError):
        with pull:
            for _ in pull:
                raise RuntimeError("Streamlit stops this run: another click")
    assert stream.stopped and not pull.finished


def test_read_only_mode_sends_nothing():
    client = FakeClient(FakeStream([], Clock()))
    pull = PullFollower(client, "gemma:2b", environ={"COMPANION_READ_ONLY": "1"})
    assert list(pull) == [] and isinstance(pull.error, models.ReadOnlyMode) and pull.finished
    assert client.pulled == []


def test_error_line_ends_the_pull_with_the_servers_message(fake_ollama):
    fake_ollama.stream("POST", "/api/pull", ['{"status":"pulling manifest"}',
                                             '{"error":"pull model manifest: file does not exist"}'])
    pull = PullFollower(OllamaClient(fake_ollama.url), "llama9")
    assert [p.status for p in pull] == ["pulling manifest"]
    assert isinstance(pull.error, StreamError) and pull.error.message == "pull model manifest: file does not exist"
    assert pull.finished and not pull.succeeded and pull.exchange.line_count == 2


def test_cancel_from_another_thread_stops_the_download(fake_ollama):
    """The Cancel click's run cancels while the run that draws waits for the server's next line."""
    fake_ollama.stream("POST", "/api/pull", fixture_lines("pull-gemma-2b") * 20, delay=0.05)  # 22 s
    pull = PullFollower(OllamaClient(fake_ollama.url), "gemma:2b")
    first = threading.Event()

    def draw():
        for _ in pull:
            first.set()

    drawing = threading.Thread(target=draw)
    started = time.monotonic()
    drawing.start()
    assert first.wait(10)
    pull.cancel()
    drawing.join(10)
    assert not drawing.is_alive() and time.monotonic() - started < 5
    assert not pull.finished and pull.error is None
    deadline = time.monotonic() + 10  # a stream of an earlier test may also end meanwhile: look for ours
    while "client closed" not in fake_ollama.stream_endings and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "client closed" in fake_ollama.stream_endings


# ------------------------------------------------------------------ teaching: names, IDs, memory, defaults
# gemma:2b's /api/show model_info (the GGUF's keys, as Ollama reports them)
GEMMA_2B_INFO = {"general.architecture": "gemma", "gemma.block_count": 18, "gemma.attention.head_count": 8,
                 "gemma.attention.head_count_kv": 1, "gemma.attention.key_length": 256,
                 "gemma.attention.value_length": 256, "gemma.embedding_length": 2048, "gemma.context_length": 8192}


@pytest.mark.parametrize("name, parts", [
    ("gemma:2b", ("library", "gemma", "2b", True, "2b", "", "")),
    ("llava", ("library", "llava", "latest", False, "", "", "")),
    ("llama3:8b-instruct-q4_K_M", ("library", "llama3", "8b-instruct-q4_K_M", True, "8b", "instruct", "q4_K_M")),
    ("llava:7b-v1.6-mistral-q4_0", ("library", "llava", "7b-v1.6-mistral-q4_0", True, "7b", "v1.6-mistral", "q4_0")),
    ("llama3:70b-text-fp16", ("library", "llama3", "70b-text-fp16", True, "70b", "text", "fp16")),
    ("gemma3:270m-base", ("library", "gemma3", "270m-base", True, "270m", "base", "")),
    ("mixtral:8x7b", ("library", "mixtral", "8x7b", True, "8x7b", "", "")),
    ("profe/tutor:v1", ("profe", "tutor", "v1", True, "", "v1", "")),
    ("hf.co/org/repo:IQ3_XXS", ("org", "repo", "IQ3_XXS", True, "", "", "IQ3_XXS")),
])
def test_tag_anatomy(name, parts):
    anatomy = models.tag_anatomy(name)
    assert (anatomy.namespace, anatomy.model, anatomy.tag, anatomy.tag_given, anatomy.size, anatomy.variant,
            anatomy.quantization) == parts


def test_tag_anatomy_of_an_invalid_name():
    assert models.tag_anatomy("llama2::7b") is None


def test_kv_cache_as_ollama_counts_it():
    # 18 layers × 1 KV head × (256 + 256) × 2 bytes per token
    assert models.kv_cache_bytes(GEMMA_2B_INFO, 8192) == 8192 * 18 * 512 * 2 == 150_994_944
    assert models.kv_cache_bytes(GEMMA_2B_INFO, 8192, num_parallel=4) == 4 * 150_994_944  # each request its own
    assert models.kv_cache_bytes(GEMMA_2B_INFO, 262_144) == 32 * 150_994_944  # the 256k default of a big GPU


def test_kv_cache_without_key_length_uses_the_head_size_and_per_layer_heads():
    info = {"general.architecture": "llama", "llama.block_count": 2, "llama.attention.head_count": 32,
            "llama.attention.head_count_kv": [8, 0], "llama.embedding_length": 4096}
    assert models.kv_cache_bytes(info, 1000) == 1000 * (128 + 128) * 8 * 2  # the second layer has no cache
    assert models.kv_cache_bytes({**info, "llama.attention.head_count_kv": 8}, 1000) == 2 * 1000 * 256 * 8 * 2


@pytest.mark.parametrize("info", [{}, {"general.architecture": "gemma"}, {**GEMMA_2B_INFO, "gemma.block_count": "18"},
                                  {**GEMMA_2B_INFO, "gemma.attention.head_count_kv": ["1"]},
                                  {**GEMMA_2B_INFO, "gemma.attention.key_length": 2.5},
                                  {k: v for k, v in GEMMA_2B_INFO.items() if "length" not in k}])
def test_kv_cache_unknown_without_the_sizes(info):
    assert models.kv_cache_bytes(info, 4096) is None


def test_the_course_model_with_other_weights():
    assert not models.differs_from_course("gemma:2b", TAGS["models"][0]["digest"])  # the course's b50d6c999e59
    assert models.differs_from_course("gemma:2b", "030ee63283b5" + "0" * 52)
    assert models.differs_from_course("library/GEMMA:2b", "030ee63283b5")
    assert not models.differs_from_course("gemma:7b", "030ee63283b5")  # another model: nothing to compare
    assert [kind for _, _, kind in models.COURSE_LAYERS] == ["model", "license", "template", "params", "config"]


def test_default_parameters_beside_the_servers():
    show = {"parameters": 'stop                           "<start_of_turn>"\nstop                           '
                          '"<end_of_turn>"\ntemperature                    0.6\nnum_ctx                        4096\n'
                          "mirostat                       1"}
    assert models.default_parameters(show) == [
        ("stop", ["<start_of_turn>", "<end_of_turn>"], None), ("temperature", 0.6, 0.8),
        ("num_ctx", 4096, None), ("mirostat", "1", None)]
    assert models.default_parameters({}) == []


def test_installed_rows_keep_the_bytes():
    rows = models.installed_models(TAGS, NOW)
    assert [r.size_bytes for r in rows] == [1678456656, 4733363377]
