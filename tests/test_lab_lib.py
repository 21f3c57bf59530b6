"""lib/lab.py and lib/charts.py as pure functions: plans, grouping, distinct counts, speeds, diffs."""
import json

import pytest

from lib import charts, lab, options
from lib.lab import Condition, Planned, Run

PROMPT = lab.DEFAULT_PROMPT_ES


def run(text, condition="c", model="m", ok=True, repetition=1, **metrics):
    return Run(model, condition, repetition, {}, False, ok=ok, text=text, error=None if ok else "boom", **metrics)


def test_plan_order_and_limits():
    conditions = lab.ready_made(["not_reproducible", "reproducible"])
    planned = lab.plan(PROMPT, ["a", "b"], conditions, 3)
    assert len(planned) == 12
    assert [(p.model, p.condition.name, p.repetition) for p in planned[:4]] == [
        ("a", "not_reproducible", 1), ("a", "not_reproducible", 2), ("a", "not_reproducible", 3),
        ("a", "reproducible", 1)]
    assert conditions[1].options == {"seed": 123, "temperature": 0}


@pytest.mark.parametrize("prompt, models, reps, key", [
    ("  ", ["m"], 3, "lab.refused.prompt"), (PROMPT, [], 3, "lab.refused.models"),
    (PROMPT, ["m"], 0, "lab.refused.repetitions"), (PROMPT, ["m"], 21, "lab.refused.repetitions"),
])
def test_plan_refusals(prompt, models, reps, key):
    with pytest.raises(lab.PlanRefused) as caught:
        lab.plan(prompt, models, lab.ready_made(["reproducible"]), reps)
    assert caught.value.key == key


def test_plan_without_conditions_or_too_big():
    with pytest.raises(lab.PlanRefused, match="lab.refused.conditions"):
        lab.plan(PROMPT, ["m"], [], 3)
    many = lab.sweep("temperature", [x / 10 for x in range(30)], 1)
    with pytest.raises(lab.PlanRefused) as caught:
        lab.plan(PROMPT, ["a", "b", "c"], many, 20)
    assert caught.value.values == {"runs": 1800, "most": lab.MAX_RUNS}


def test_sweep_and_values():
    assert lab.parse_values("0, 0.4,0.8 ; 1.2") == [0, 0.4, 0.8, 1.2]
    assert lab.parse_values("512, 2048") == [512, 2048] and isinstance(lab.parse_values("512")[0], int)
    with pytest.raises(ValueError):
        lab.parse_values("hot, cold")
    with pytest.raises(ValueError):
        lab.parse_values(" , ")
    seeded = lab.sweep("temperature", [0, 0.8], 123)
    assert [(c.name, c.options) for c in seeded] == [
        ("temperature=0, seed=123", {"temperature": 0, "seed": 123}),
        ("temperature=0.8, seed=123", {"temperature": 0.8, "seed": 123})]
    assert lab.sweep("num_ctx", [512], None)[0].options == {"num_ctx": 512}


def test_custom_conditions():
    conditions, problems = lab.parse_custom('top_k 5: {"top_k": 5}\n\n{"seed": 1}\nbroken: {seed}')
    assert [(c.name, c.options) for c in conditions] == [("top_k 5", {"top_k": 5}), ("custom 3", {"seed": 1})]
    assert [(p.key, p.values) for p in problems] == [("lab.custom_invalid", {"line": 4})]
    assert options.check(lab.parse_custom('x: {"temperature": "hot"}')[0][0].options)[0].key == "options.problem.type"


def test_groups_and_outcomes():
    runs = [run("A"), run("B"), run("A"), run("", ok=False), run("X", condition="d"), run("X", condition="d")]
    assert lab.groups(["A", "B", "A"]) == [("A", 2), ("B", 1)]
    first, second = lab.outcomes(runs)
    assert (first.condition, first.runs, first.failed, first.distinct, first.identical) == ("c", 3, 1, 2, False)
    assert (second.runs, second.distinct, second.identical) == (2, 1, True)
    assert lab.outcomes([run("", ok=False)])[0].identical is False  # nothing finished: not "identical"


def test_finished_run_from_an_answer_and_zero_durations():
    planned = Planned("gemma:2b", Condition("reproducible", {}), 1)
    answer = json.loads(open("tests/fixtures/generate-seed123-1.ndjson").read())
    finished = lab.finished_run(planned, {"seed": 123}, False, answer, wall_s=5.0)
    assert finished.text.startswith("El cielo no es azúl.") and finished.output_tokens == answer["eval_count"]
    assert finished.load_s == pytest.approx(answer["load_duration"] / 1e9)
    assert "context" not in finished.raw
    zero = lab.finished_run(planned, {}, False, {"response": "x", "eval_count": 3, "eval_duration": 0}, 0.1)
    assert zero.tokens_per_second is None


def test_word_diff():
    pieces = lab.word_diff("El cielo es azul por la luz", "El cielo es azul debido a la luz solar")
    assert pieces == [("same", "El cielo es azul"), ("removed", "por"), ("added", "debido a"),
                      ("same", "la luz"), ("added", "solar")]
    assert lab.word_diff("igual", "igual") == [("same", "igual")]


def test_table_other_time_and_exports():
    runs = [run("A", load_s=1.0, prompt_eval_s=0.5, eval_s=2.0, total_s=3.6, wall_s=3.7,
                output_tokens=20, tokens_per_second=10.0), run("", ok=False, wall_s=0.2)]
    frame = lab.table(runs)
    assert list(frame["run"]) == [1, 2] and frame.loc[0, "other_s"] == pytest.approx(0.1)
    assert frame.loc[1, "ok"] == False and frame.loc[1, "error"] == "boom"  # noqa: E712
    assert "other_s" in frame.to_csv(index=False).splitlines()[0]
    assert json.loads(lab.export_json(PROMPT, runs))["runs"][1]["ok"] is False


def test_lab_sheet():
    labels = {"title": "Hoja", "prompt": "Prompt", "model": "Modelo", "condition": "Condición",
              "options": "Opciones", "result": "Resultado", "speed": "Velocidad media",
              "identical": lambda n: f"{n}/{n} idénticas", "distinct": lambda distinct, n: f"{distinct} de {n}",
              "failed": lambda n: f"{n} fallidas"}
    runs = [run("A", tokens_per_second=10.0), run("A", tokens_per_second=20.0), run("", ok=False)]
    sheet = lab.lab_sheet(PROMPT, runs, labels)
    assert f"**Prompt**: {PROMPT}" in sheet and "| `m` | c | `{}` | 2/2 idénticas · 1 fallidas |" in sheet
    assert "- **2×** A" in sheet and "Velocidad media: 15.0 tokens/s" in sheet


def test_charts_have_the_phases_and_skip_failed_runs():
    runs = [run("A", load_s=1.0, prompt_eval_s=0.5, eval_s=2.0, total_s=3.5, wall_s=3.6, tokens_per_second=9.0),
            run("B", repetition=2, load_s=0.01, prompt_eval_s=0.5, eval_s=2.0, total_s=2.51, wall_s=2.6,
                tokens_per_second=11.0),
            run("", ok=False)]
    runs[0].cold = True
    frame = lab.table(runs)
    labels = {"load_s": "load", "prompt_eval_s": "prompt", "eval_s": "eval", "other_s": "other",
              "seconds": "s", "cold": "cold", "warm": "warm", "load_seconds": "load s", "wall": "wall"}
    timing = charts.timing(frame, labels)
    assert [trace.name for trace in timing.data] == ["load", "prompt", "eval", "other"]
    assert list(timing.data[0].y) == [1.0, 0.01] and timing.data[3].y[0] == pytest.approx(0.1)
    cold = charts.cold_and_warm(frame, labels)
    assert {trace.name: list(trace.y) for trace in cold.data} == {"warm": [0.01], "cold": [1.0]}
    assert list(charts.speed(frame, labels).data[0].y) == [9.0, 11.0]
    assert list(charts.models_compared(frame, labels).data[0].y) == [pytest.approx(3.1)]


def test_course_table_annotated():
    rows = options.course_table()
    assert [r.no for r in rows] == list(range(1, 32))
    by_name = {r.name: r for r in rows}
    assert by_name["num_gqa"].verdict == "wrong" and by_name["num_gqa"].removed_in == "0.1.35"
    assert by_name["tfs_z"].removed_in == "0.5.2" and by_name["num_keep"].verdict == "wrong"
    assert by_name["seed"].removed_in is None and by_name["seed"].meaning_key == "option.seed"
    assert by_name["mirostat"].meaning_key == "removed_option.mirostat"
    assert sum(r.removed_in is not None for r in rows) == 13
    from lib import i18n
    for row in rows:
        assert row.meaning_key in i18n.catalog("es") and row.meaning_key in i18n.catalog("en")
