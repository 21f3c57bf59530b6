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
