"""The typed result of a finished generation, read from the course's recorded final chunks."""
import json

import pytest

from lib.generation import Generation
from tests.plugins.fake_ollama import fixture_lines


def final_of(name: str) -> dict:
    return json.loads(fixture_lines(name)[-1])


def test_the_course_final_chunk_in_seconds_and_tokens_per_second():
    final = final_of("generate-nostream")
    done = Generation.from_final(final, first_token_s=0.25, wall_s=final["total_duration"] / 1e9 + 0.5)
    assert done.output_tokens == final["eval_count"] and done.prompt_tokens == final["prompt_eval_count"]
    assert done.total_s == pytest.approx(final["total_duration"] / 1e9)
    assert done.load_s == pytest.approx(final["load_duration"] / 1e9)
    assert done.tokens_per_second == pytest.approx(final["eval_count"] / (final["eval_duration"] / 1e9))
    assert done.other_s == pytest.approx(0.5)
    assert done.done_reason == final.get("done_reason")


def test_a_cached_prompt_has_no_prompt_speed_rather_than_a_division_by_zero():
    done = Generation.from_final({"prompt_eval_count": 12, "prompt_eval_duration": 0, "eval_count": 3,
                                  "eval_duration": 1_500_000_000})
    assert done.prompt_tokens_per_second is None
    assert done.tokens_per_second == pytest.approx(2.0)


@pytest.mark.parametrize("final", [None, {}, "done", {"eval_count": "9", "eval_duration": [1]},
                                   {"eval_count": True, "total_duration": float("nan"), "done_reason": 7},
                                   {"eval_count": -4, "load_duration": -1}])
def test_missing_or_wrongly_typed_fields_read_as_unknown(final):
    done = Generation.from_final(final)
    assert (done.output_tokens, done.total_s, done.load_s, done.tokens_per_second, done.done_reason) == \
        (None, None, None, None, None)


def test_an_export_round_trip_keeps_numbers_and_refuses_anything_else():
    done = Generation.from_final(final_of("chat-nostream"), first_token_s=0.1, wall_s=2.0)
    assert Generation.from_dict(json.loads(json.dumps(done.as_dict()))) == done
    hostile = Generation.from_dict({"prompt_tokens": 1, "output_tokens": "many", "wall_s": {"x": 1}})
    assert (hostile.prompt_tokens, hostile.output_tokens, hostile.wall_s) == (1, None, None)
    assert Generation.from_dict(["not", "a", "dict"]) == Generation()


def test_a_thinking_answer_keeps_the_dashboards_measures_of_its_reasoning():
    final = final_of("today-chat-think")
    done = Generation.from_final(final, first_token_s=1.9, wall_s=2.2, first_thinking_s=0.15, thinking_s=1.75,
                                 thinking_tokens=51)
    assert done.output_tokens == 64 and done.thinking_tokens == 51 and done.answer_tokens == 13
    assert done.tokens_per_second == pytest.approx(64 / (final["eval_duration"] / 1e9))  # both, as Ollama counts
    assert Generation.from_dict(json.loads(json.dumps(done.as_dict()))) == done
    assert Generation.from_final(final).answer_tokens is None  # nothing counted: nothing claimed


def test_imported_reasoning_measures_keep_only_numbers():
    hostile = Generation.from_dict({"thinking_tokens": "51", "thinking_s": [1], "first_thinking_s": True,
                                    "output_tokens": 10})
    assert (hostile.thinking_tokens, hostile.thinking_s, hostile.first_thinking_s, hostile.answer_tokens) == \
        (None, None, None, None)
    assert Generation.from_dict({"thinking_tokens": 12.0, "output_tokens": 10}).answer_tokens == 0  # never negative
