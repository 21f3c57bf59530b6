"""lib/thinking.py: which `think` values a model takes, and what "compare" asks with."""
import pytest

from lib import thinking


@pytest.mark.parametrize("capabilities, model, family, expected", [
    (["completion"], "gemma3:270m", "gemma3", None),  # no capability: no control, nothing sent
    (None, "qwen3:0.6b", "qwen3", None),  # capabilities unknown (an old server): the same
    (["completion", "tools", "thinking"], "qwen3:0.6b", "qwen3", ("default", "off", "on")),
    (["completion", "thinking"], "deepseek-r1:1.5b", "qwen2", ("default", "off", "on")),
    (["completion", "tools", "thinking"], "gpt-oss:20b", "gptoss", ("default", "low", "medium", "high")),
    (["completion", "thinking"], "registry.example/me/gpt-oss-mine:latest", "", ("default", "low", "medium", "high")),
    (["completion", "thinking"], "profe:latest", "gptoss", ("default", "low", "medium", "high")),  # a copy: its family
])
def test_the_control_offers_what_the_model_takes(capabilities, model, family, expected):
    assert thinking.choices(capabilities, model, family) == expected


def test_each_choice_sends_what_ollama_reads():
    assert [thinking.SENT[c] for c in thinking.ON_OFF] == [None, False, True]
    assert [thinking.SENT[c] for c in thinking.LEVELS] == [None, "low", "medium", "high"]
    assert [thinking.shown(v) for v in (None, False, True, "low")] == ["", "false", "true", '"low"']


@pytest.mark.parametrize("think, levels, other", [
    (None, False, False), (True, False, False), (False, False, True),
    (None, True, "low"), ("medium", True, "low"), ("low", True, "high"),
])
def test_compare_asks_with_the_opposite(think, levels, other):
    assert thinking.opposite(think, levels) == other


def test_valid_values():
    assert all(thinking.valid(v) for v in (None, True, False, "low", "medium", "high", "max"))
    assert not any(thinking.valid(v) for v in ("on", 1, 0, {}, "LOW"))
