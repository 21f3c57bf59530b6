"""The catalog's data (assets/catalog.json): capability tags, historical models and their current
alternatives, the capability filter, and a description in both languages for every model."""
import json
import pathlib

from lib import catalog
from lib.ollama_facts import CAPABILITIES

EVERY = catalog.load_catalog()
BY_TAG = {m.tag: m for m in EVERY}


def test_capabilities_are_ollamas():
    assert all(set(m.capabilities) <= set(CAPABILITIES) for m in EVERY)
    assert set(catalog.CAPABILITY_FILTERS) <= set(CAPABILITIES)
    assert BY_TAG["gpt-oss:20b"].capabilities == ("thinking", "tools")
    assert BY_TAG["gemma3:4b"].capabilities == ("vision",) and BY_TAG["gemma3:1b"].capabilities == ()


def test_every_historical_model_names_a_current_one_in_the_catalog():
    historical = [m for m in EVERY if m.historical]
    assert {m.tag for m in historical} == {m.tag for m in EVERY if m.course}  # the course's 2024 models
    for model in historical:
        alternative = BY_TAG[model.alternative]  # in the catalog
        assert not alternative.historical and not alternative.course
    assert BY_TAG["gemma:2b"].alternative == "gemma3:1b" and BY_TAG["llava"].alternative == "gemma3:4b"
    assert BY_TAG["llama2:7b"].alternative == "llama3.2:3b"
    assert "vision" in BY_TAG[BY_TAG["llava"].alternative].capabilities  # an image model for an image model


def test_capability_filter_keeps_the_models_with_all_chosen():
    assert {m.tag for m in catalog.select(EVERY, capabilities=["embedding"])} == {"nomic-embed-text", "all-minilm"}
    assert {m.tag for m in catalog.select(EVERY, capabilities=["thinking"])} == {"deepseek-r1:1.5b", "gpt-oss:20b"}
    assert [m.tag for m in catalog.select(EVERY, capabilities=["thinking", "tools"])] == ["gpt-oss:20b"]
    assert [m.tag for m in catalog.select(EVERY, fits_in_gb=8, capabilities=["thinking", "tools"])] == []
    assert {m.tag for m in catalog.select(EVERY, "vision", capabilities=["vision"])} == {
        "llava", "gemma3:4b", "moondream", "llava-phi3"}
    assert catalog.select(EVERY, capabilities=[]) == list(EVERY)


def test_sizes_and_memory_of_the_models_added_today():
    assert all(m.memory_gb >= m.size_gb + 0.5 for m in EVERY if not m.course)  # the download plus a context
    assert (BY_TAG["gpt-oss:20b"].size_gb, BY_TAG["gpt-oss:20b"].memory_gb) == (14, 16)
    assert BY_TAG["all-minilm"].size_gb == 0.046 and BY_TAG["nomic-embed-text"].purposes == ("embedding",)


def test_every_model_is_described_in_both_languages():
    root = pathlib.Path(__file__).resolve().parent.parent / "assets" / "i18n"
    for lang in ("en", "es"):
        texts = json.loads((root / lang / "models.json").read_text(encoding="utf-8"))
        assert {f"catalog.{m.id}" for m in EVERY} <= texts.keys(), lang
        assert {f"models.purpose.{p}" for p in catalog.PURPOSES} <= texts.keys(), lang
        assert {f"models.capability.{c}" for c in catalog.CAPABILITY_FILTERS} <= texts.keys(), lang
