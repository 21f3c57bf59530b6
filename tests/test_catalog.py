"""The catalog's data (assets/catalog.json): sizes with where each was checked, capability tags,
historical models and their current alternatives, licences, the filters, and a description in both
languages for every model."""
import json
import pathlib
import re

from lib import catalog
from lib.ollama_facts import CAPABILITIES, SKILLS, SMALL_MODELS_WITH

EVERY = catalog.load_catalog()
BY_TAG = {m.tag: m for m in EVERY}


def test_capabilities_are_ollamas():
    assert all(set(m.capabilities) <= set(SKILLS) <= set(CAPABILITIES) for m in EVERY)
    assert catalog.CAPABILITY_FILTERS == SKILLS
    assert BY_TAG["gpt-oss:20b"].capabilities == ("thinking", "tools")
    assert BY_TAG["gemma3:4b"].capabilities == ("vision",) and BY_TAG["gemma3:1b"].capabilities == ()
    assert all(BY_TAG[f"qwen3:{size}"].capabilities == ("thinking", "tools") for size in ("0.6b", "1.7b", "4b"))
    assert BY_TAG["qwen2.5vl:3b"].capabilities == ("vision",) and BY_TAG["embeddinggemma"].capabilities == ("embedding",)
    assert BY_TAG["deepseek-r1:1.5b"].capabilities == ("thinking",)  # tools not confirmed for this tag


def test_the_small_models_other_pages_recommend_are_in_the_catalog():
    for capability, tags in SMALL_MODELS_WITH.items():
        for tag in tags:
            assert tag in BY_TAG, tag
            assert capability == "completion" or capability in BY_TAG[tag].capabilities, tag


def test_todays_small_models_are_all_there():
    assert {"qwen3:0.6b", "qwen3:1.7b", "qwen3:4b", "gemma3:270m", "gemma3:1b", "gemma3:4b", "llama3.2:1b",
            "llama3.2:3b", "smollm2:135m", "smollm2:360m", "smollm2:1.7b", "deepseek-r1:1.5b", "gpt-oss:20b",
            "qwen2.5vl:3b", "moondream", "embeddinggemma", "nomic-embed-text", "all-minilm"} <= BY_TAG.keys()
    assert len({m.id for m in EVERY}) == len(EVERY) and len(BY_TAG) == len(EVERY)


def test_every_size_says_where_it_was_checked():
    for model in EVERY:
        assert model.size_source, model.tag
        figure = model.size_source.split(":")[0]  # "1.7 GB: ollama.com blob ..." starts with the size
        number, unit = figure.split()
        assert float(number) == (model.size_gb if unit == "GB" else round(model.size_gb * 1000)), model.tag
    unchecked = {m.tag for m in EVERY if "NOT CHECKED" in m.size_source}
    assert unchecked == {"llama3:text", "llama3:70b-text", "qwen2.5-coder:1.5b"}  # said, not hidden


def test_the_audits_sizes():
    """Teaching audit §1f: the course's own pull says gemma:2b is 1.7 GB."""
    assert [BY_TAG[tag].size_gb for tag in ("gemma:2b", "gemma:7b", "llava", "phi")] == [1.7, 5.0, 4.7, 1.6]
    assert (BY_TAG["gpt-oss:20b"].size_gb, BY_TAG["deepseek-r1:1.5b"].size_gb) == (14, 1.1)
    assert (BY_TAG["nomic-embed-text"].size_gb, BY_TAG["all-minilm"].size_gb) == (0.274, 0.046)
    assert [BY_TAG[f"qwen3:{s}"].size_gb for s in ("0.6b", "1.7b", "4b")] == [0.523, 1.4, 2.5]
    assert [BY_TAG[f"smollm2:{s}"].size_gb for s in ("135m", "360m", "1.7b")] == [0.271, 0.726, 1.8]
    assert (BY_TAG["qwen2.5vl:3b"].size_gb, BY_TAG["embeddinggemma"].size_gb) == (3.2, 0.622)


def test_every_historical_model_names_a_current_one_in_the_catalog():
    historical = [m for m in EVERY if m.historical]
    assert {m.tag for m in historical} == {m.tag for m in EVERY if m.course}  # the course's 2024 models
    for model in historical:
        alternative = BY_TAG[model.alternative]  # in the catalog
        assert not alternative.historical and not alternative.course
        assert set(model.purposes) <= set(alternative.purposes), model.tag  # it does the same job
    assert BY_TAG["gemma:2b"].alternative == "gemma3:1b" and BY_TAG["llava"].alternative == "gemma3:4b"
    assert BY_TAG["llama2:7b"].alternative == "llama3.2:3b"
    assert "vision" in BY_TAG[BY_TAG["llava"].alternative].capabilities  # an image model for an image model


def test_base_models_are_for_completion():
    assert {m.tag for m in EVERY if m.purposes == ("completion",)} == {
        "llama3:text", "llama3:70b-text", "gemma3:270m-base"}


def test_licences_and_the_content_caveat():
    assert [m.tag for m in EVERY if m.content_caveat] == ["llama2-uncensored"]
    assert BY_TAG["qwen2.5vl:3b"].license == "Qwen Research License (non-commercial)"
    assert {BY_TAG[t].license for t in ("gemma:2b", "gemma3:1b", "embeddinggemma")} == {"Gemma Terms of Use"}
    assert BY_TAG["qwen3:0.6b"].license == "Apache 2.0" and BY_TAG["llava"].license == ""  # not checked


def test_capability_filter_keeps_the_models_with_all_chosen():
    assert {m.tag for m in catalog.select(EVERY, capabilities=["embedding"])} == {
        "nomic-embed-text", "all-minilm", "embeddinggemma"}
    assert {m.tag for m in catalog.select(EVERY, capabilities=["thinking"])} == {
        "deepseek-r1:1.5b", "gpt-oss:20b", "qwen3:0.6b", "qwen3:1.7b", "qwen3:4b"}
    assert [m.tag for m in catalog.select(EVERY, capabilities=["thinking", "tools"])] == [
        "qwen3:0.6b", "qwen3:1.7b", "qwen3:4b", "gpt-oss:20b"]
    assert [m.tag for m in catalog.select(EVERY, fits_in_gb=2, capabilities=["thinking", "tools"])] == ["qwen3:0.6b"]
    assert {m.tag for m in catalog.select(EVERY, "vision", capabilities=["vision"])} == {
        "llava", "gemma3:4b", "moondream", "llava-phi3", "qwen2.5vl:3b"}
    assert catalog.select(EVERY, capabilities=[]) == list(EVERY)
    assert [m.tag for m in catalog.select(EVERY, "embedding", fits_in_gb=1)] == ["nomic-embed-text", "all-minilm"]


def test_memory_is_more_than_the_download():
    assert all(m.memory_gb >= m.size_gb + 0.5 for m in EVERY if not m.course)  # the download plus a context
    assert all(m.memory_gb > m.size_gb for m in EVERY)
    assert (BY_TAG["gpt-oss:20b"].size_gb, BY_TAG["gpt-oss:20b"].memory_gb) == (14, 16)


def test_every_model_is_described_in_both_languages():
    root = pathlib.Path(__file__).resolve().parent.parent / "assets" / "i18n"
    for lang in ("en", "es"):
        texts = json.loads((root / lang / "models.json").read_text(encoding="utf-8"))
        assert {f"catalog.{m.id}" for m in EVERY} <= texts.keys(), lang
        assert {f"models.purpose.{p}" for p in catalog.PURPOSES} <= texts.keys(), lang
        assert {f"models.capability.{c}" for c in catalog.CAPABILITY_FILTERS} <= texts.keys(), lang


def test_spanish_descriptions_write_decimals_with_a_comma():
    texts = json.loads((pathlib.Path(__file__).resolve().parent.parent / "assets" / "i18n" / "es" / "models.json")
                       .read_text(encoding="utf-8"))
    for key, text in texts.items():
        assert not re.search(r"\d\.\d+ ?(B|GB|MB)\b", text), key  # "1,5B", "4,7 GB"
        assert "dashboard" not in text and "portátil" not in text and "billón" not in text, key
