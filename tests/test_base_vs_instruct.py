"""lib/base_vs_instruct.py: the lab's base vs instruct lesson against the fake server, which replays
the built-in server's recorded answers of both kinds (the real models: tests/test_page_lab.py)."""
import pytest

from lib import base_vs_instruct
from lib.base_vs_instruct import LessonRefused
from lib.client import ModelNotFound, OllamaClient
from tests.plugins.fake_ollama import Script, recorded_answers

# What the built-in server answered to PROMPT_EN at temperature 0 and num_predict 32 (tests/fixtures)
LESSON_ANSWERS = ("builtin-generate-instruct", "builtin-generate-base")


@pytest.mark.parametrize("names, pair", [
    (["gemma3:270m-base", "smollm2:135m", "profe:latest"], ("smollm2:135m", "gemma3:270m-base")),
    (["llama3:8b", "llama3:text"], ("llama3:8b", "llama3:text")),
    (["smollm2:135m", "llava:latest"], ("smollm2:135m", "llava:latest")),
    (["gemma:2b"], ("gemma:2b", None)), ([], (None, None)),
])
def test_default_pair(names, pair):
    assert base_vs_instruct.default_pair(names) == pair


@pytest.mark.parametrize("prompt, instruct, base, key", [
    ("  ", "a", "b", "lab.lesson.refused.prompt"), ("hi", "a", None, "lab.lesson.refused.models"),
    ("hi", "a", "a", "lab.lesson.refused.same")])
def test_refused_before_sending(fake_ollama, prompt, instruct, base, key):
    with pytest.raises(LessonRefused) as refused:
        base_vs_instruct.compare(OllamaClient(fake_ollama.url), prompt, instruct, base)
    assert refused.value.key == key and fake_ollama.bodies("/api/generate") == []


def test_both_answers_with_what_ended_them(fake_ollama):
    fake_ollama.sequence("POST", "/api/generate", recorded_answers(*LESSON_ANSWERS))
    shown = base_vs_instruct.compare(OllamaClient(fake_ollama.url), "What is the capital of France?",
                                     "smollm2:135m", "gemma3:270m-base", 32)
    assert [body["model"] for body in fake_ollama.bodies("/api/generate")] == ["smollm2:135m", "gemma3:270m-base"]
    assert all(body == {"model": body["model"], "prompt": "What is the capital of France?", "stream": False,
                        "options": {"temperature": 0, "num_predict": 32}}
               for body in fake_ollama.bodies("/api/generate"))
    instruct, base = shown.answers
    assert (instruct.kind, instruct.text, instruct.done_reason) == ("instruct", "The capital of France is Paris.", "stop")
    assert (instruct.generation.prompt_tokens, instruct.generation.output_tokens) == (16, 7)
    assert (base.kind, base.done_reason, base.generation.prompt_tokens, base.generation.output_tokens) == (
        "base", "length", 8, 32)
    assert base.exchange.body["model"] == "gemma3:270m-base"  # each side keeps its own call


def test_a_failed_side_keeps_the_other(fake_ollama):
    fake_ollama.sequence("POST", "/api/generate", [Script(404, {"error": "model 'smollm2:135m' not found"}),
                                                   *recorded_answers(LESSON_ANSWERS[1])])
    instruct, base = base_vs_instruct.compare(OllamaClient(fake_ollama.url), "hi", "smollm2:135m",
                                              "gemma3:270m-base").answers
    assert isinstance(instruct.error, ModelNotFound) and instruct.generation is None
    assert instruct.exchange.status == 404
    assert base.done_reason == "length" and base.error is None
