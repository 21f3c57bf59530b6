"""lib/lab.py, lib/lab_runner.py and lib/charts.py without Streamlit: plans, grouping, distinct
counts, speeds, diffs, and the plan runner against a stand-in client with the recorded answers."""
import json
import threading

import pytest

from lib import charts, lab, options
from lib.client import CannotConnect, ModelNotFound
from lib.generation import Generation
from lib.lab import Condition, Planned, Run
from lib.lab_runner import Experiment
from tests.plugins.fake_ollama import fixture_lines

PROMPT = lab.DEFAULT_PROMPT_ES


def run(text, condition="c", model="m", ok=True, repetition=1, **metrics):
    return Run(model, condition, repetition, {}, False, ok=ok, text=text, error=None if ok else "boom", **metrics)


def recorded(name):
    """A non-streamed answer recorded from a real Ollama (tests/fixtures)."""
    return json.loads(fixture_lines(name)[0])


def test_plan_order_and_limits():
    conditions = lab.ready_made(["default", "seed"])
    planned = lab.plan(PROMPT, ["a", "b"], conditions, 3)
    assert len(planned) == 12
    assert [(p.model, p.condition.name, p.repetition) for p in planned[:4]] == [
        ("a", "default", 1), ("a", "default", 2), ("a", "default", 3),
        ("a", "seed", 1)]
    assert conditions[1].options == {"seed": 123}


@pytest.mark.parametrize("prompt, models, reps, key", [
    ("  ", ["m"], 3, "lab.refused.prompt"), (PROMPT, [], 3, "lab.refused.models"),
    (PROMPT, ["m"], 0, "lab.refused.repetitions"), (PROMPT, ["m"], 21, "lab.refused.repetitions"),
])
def test_plan_refusals(prompt, models, reps, key):
    with pytest.raises(lab.PlanRefused) as caught:
        lab.plan(prompt, models, lab.ready_made(["seed"]), reps)
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
    planned = Planned("gemma:2b", Condition("seed", {}), 1)
    answer = recorded("generate-seed123-1")
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
              "failed": lambda n: f"{n} fallidas", "version": "Versión de Ollama", "digest": "digest",
              "processor": "procesador", "context_length": "contexto", "effective": "Opciones efectivas"}
    runs = [run("A", tokens_per_second=10.0), run("A", tokens_per_second=20.0), run("", ok=False)]
    runs[0].options = runs[1].options = runs[2].options = {"seed": 123, "num_predict": 48}
    environment = {"version": "0.33.0", "models": {"m": {
        "digest": "b50d6c999e59", "processor": "100% CPU", "context_length": 4096,
        "parameters": {"temperature": 0.7, "stop": ["<end_of_turn>"]}}}}
    sheet = lab.lab_sheet(PROMPT, runs, labels, environment)
    assert f"**Prompt**: {PROMPT}" in sheet
    assert '| `m` | c | `{"seed": 123, "num_predict": 48}` | 2/2 idénticas · 1 fallidas |' in sheet
    assert "- **2×** A" in sheet and "Velocidad media: 15.0 tokens/s" in sheet
    assert "- **Versión de Ollama**: 0.33.0" in sheet
    assert "- `m`: digest `b50d6c999e59` · procesador 100% CPU · contexto 4096" in sheet
    effective = next(line for line in sheet.splitlines() if line.startswith("Opciones efectivas"))
    assert "seed=123 (request)" in effective and "num_predict=48 (request)" in effective
    assert "temperature=0.7 (model)" in effective and 'stop=["<end_of_turn>"] (model)' in effective
    assert "top_k=40 (server)" in effective and "num_ctx" not in effective  # chosen by the server: unknown
    assert "Velocidad media: 15,0 tokens/s" in lab.lab_sheet(PROMPT, runs, {**labels, "lang": "es"}, environment)
    unknown = lab.lab_sheet(PROMPT, runs, labels)  # an experiment saved before the environment was kept
    assert "- **Versión de Ollama**: ?" in unknown and "- `m`: digest `?` · procesador ? · contexto ?" in unknown


def test_loaded_reads_ps_and_show_like_ollama_ps():
    ps = {"models": [{"name": "gemma:2b", "digest": "d" * 64, "size": 4_000, "size_vram": 1_000, "context_length": 8192}]}
    entry = lab.loaded(ps, "gemma:2b", {"parameters": "temperature 0.7"})
    assert entry == {"digest": "d" * 64, "processor": "75%/25% CPU/GPU", "context_length": 8192,
                     "parameters": {"temperature": 0.7}}
    assert lab.loaded({"models": []}, "gemma:2b", {})["processor"] is None  # unloaded meanwhile


def test_compare_texts_speeds_and_truncation():
    alone = run("A", repetition=1, tokens_per_second=10.0, wall_s=3.5, load_s=1.5, output_tokens=20,
                done_reason="length")  # loading the model is left out: 20 tokens in 2 s
    together = [run("A" if n < 3 else "B", repetition=n, tokens_per_second=6.0, wall_s=4.0 + n / 10,
                    output_tokens=20, in_flight=3, wave=1) for n in (2, 3, 4)]
    runs = [alone, *together]
    [compared] = lab.compare_texts(runs, lambda r: r.in_flight == 1)
    assert (compared.first, compared.second, compared.same) == (1, 2, False)
    assert lab.compare_texts(runs[:2], lambda r: r.in_flight == 1)[0].same is True
    assert lab.compare_texts(runs, lambda r: r.cold) == []  # no cold runs: nothing to compare
    one, three = lab.speeds(runs)
    assert (one.in_flight, one.requests, one.per_request, one.aggregate) == (1, 1, 10.0, 10.0)
    assert (three.in_flight, three.requests, three.per_request) == (3, 3, 6.0)
    assert three.aggregate == pytest.approx(60 / 4.4)  # 60 tokens in the wave's 4.4 s
    assert lab.truncated(runs) and not lab.truncated(together)


def test_charts_have_the_phases_and_skip_failed_runs():
    runs = [run("A", load_s=1.0, prompt_eval_s=0.5, eval_s=2.0, total_s=3.5, wall_s=3.6, tokens_per_second=9.0),
            run("B", repetition=2, load_s=0.01, prompt_eval_s=0.5, eval_s=2.0, total_s=2.51, wall_s=2.6,
                tokens_per_second=11.0),
            run("", ok=False)]
    runs[0].cold = True
    frame = lab.table(runs)
    labels = {"load_s": "load", "prompt_eval_s": "prompt", "eval_s": "eval", "other_s": "other",
              "seconds": "s", "cold": "cold", "warm": "warm", "load_seconds": "load s", "wall": "wall",
              "separators": ",."}
    timing = charts.timing(frame, labels)
    assert [trace.name for trace in timing.data] == ["load", "prompt", "eval", "other"]
    assert list(timing.data[0].y) == [1.0, 0.01] and timing.data[3].y[0] == pytest.approx(0.1)
    cold = charts.cold_and_warm(frame, labels)
    assert {trace.name: list(trace.y) for trace in cold.data} == {"warm": [0.01], "cold": [1.0]}
    assert list(charts.speed(frame, labels).data[0].y) == [9.0, 11.0]
    assert list(charts.models_compared(frame, labels).data[0].y) == [pytest.approx(3.1)]
    assert {chart(frame, labels).layout.separators for chart in (charts.timing, charts.speed, charts.cold_and_warm,
                                                                 charts.models_compared)} == {",."}  # 6,5 s


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


# ------------------------------------------------------------------------------ the plan runner
class Client:
    """Stands in for OllamaClient with the course's recorded answers: a request with seed 123 gets
    the two reproducible recordings, one without a seed the two that differ. `during[n]` runs
    inside request n (1-based): what happens meanwhile (Cancel, a newer script run, a failure)."""

    def __init__(self, during=None):
        self.calls = []  # "unload" or "generate", in order
        self.generated = []  # (model, options) of every generate request
        self.during = during or {}
        self.answered = {"seed123": 0, "unseeded": 0}

    def unload(self, model):
        self.calls.append("unload")

    def version(self):
        return {"version": "0.33.0"}

    def ps(self):
        return {"models": [{"name": "gemma:2b", "digest": "b50d6c999e59" + "0" * 52, "size": 3_000_000_000,
                            "size_vram": 0, "context_length": 4096}]}

    def show(self, model):
        return {"parameters": 'stop "<start_of_turn>"\nstop "<end_of_turn>"\ntemperature 0.7'}

    def generate(self, model, prompt, stream, options):
        assert stream is False and prompt == PROMPT
        self.calls.append("generate")
        self.generated.append((model, options))
        if action := self.during.get(len(self.generated)):
            action()
        kind = "seed123" if options.get("seed") == 123 else "unseeded"
        self.answered[kind] += 1
        return recorded(f"generate-{kind}-{(self.answered[kind] - 1) % 2 + 1}")


def experiment(models=("gemma:2b",), repetitions=2, alternate=False):
    planned = lab.plan(PROMPT, list(models), lab.ready_made(["default", "seed"]), repetitions)
    return Experiment(PROMPT, 48, alternate, planned)


def done(runs):
    return [(r.model, r.condition, r.repetition, r.ok) for r in runs]


def raises(error):
    def action():
        raise error
    return action


def test_runner_runs_the_plan_with_the_recorded_answers():
    lab_run, client, steps = experiment(), Client(), []
    assert lab_run.run(client, "skipped", lambda index, step: steps.append((index, step.repetition))) is True
    assert steps == [(0, 1), (1, 2), (2, 1), (3, 2)] and not lab_run.running
    assert [options for _, options in client.generated] == [{"num_predict": 48}] * 2 + [
        {"seed": 123, "num_predict": 48}] * 2
    shown = lab_run.results()
    assert [(o.condition, o.distinct, o.identical) for o in shown.outcomes] == [
        ("default", 2, False), ("seed", 1, True)]
    assert lab_run.runs[0].load_s == pytest.approx(recorded("generate-unseeded-1")["load_duration"] / 1e9)


def test_runner_unloads_before_every_other_repetition():
    lab_run, client = experiment(repetitions=2, alternate=True), Client()
    lab_run.run(client, "skipped")
    assert client.calls == ["unload", "generate", "generate"] * 2
    assert [r.cold for r in lab_run.runs] == [True, False, True, False]


def test_cancel_mid_plan_keeps_the_finished_runs():
    lab_run = experiment()
    client = Client(during={2: lambda: lab_run.cancel()})  # Cancel clicked while request 2 runs
    assert lab_run.run(client, "skipped") is False
    assert done(lab_run.runs) == [("gemma:2b", "default", 1, True)]  # request 2 not recorded
    assert not lab_run.running and lab_run.run(client, "skipped") is True
    assert len(client.generated) == 2  # nothing more was asked


def test_a_connection_error_stops_and_keeps_the_results():
    lab_run = experiment()
    client = Client(during={3: raises(CannotConnect("Connection refused", "refused"))})
    assert lab_run.run(client, "skipped") is True
    assert [r.ok for r in lab_run.runs] == [True, True, False] and lab_run.runs[2].error == "Connection refused"
    assert isinstance(lab_run.error, CannotConnect) and not lab_run.running
    assert len(client.generated) == 3
    assert lab_run.results().outcomes[1].failed == 1


def test_a_deleted_models_remaining_runs_are_skipped():
    lab_run = experiment(models=("gone:1b", "gemma:2b"), repetitions=1)
    client = Client(during={1: raises(ModelNotFound("model 'gone:1b' not found", 404, "gone:1b"))})
    lab_run.run(client, "skipped: not on the server")
    assert done(lab_run.runs) == [("gone:1b", "default", 1, False), ("gone:1b", "seed", 1, False),
                                  ("gemma:2b", "default", 1, True), ("gemma:2b", "seed", 1, True)]
    assert [r.error for r in lab_run.runs[:2]] == ["model 'gone:1b' not found", "skipped: not on the server"]
    assert [model for model, _ in client.generated] == ["gone:1b", "gemma:2b", "gemma:2b"]


def test_a_newer_run_takes_over_without_duplicates():
    """Streamlit 1.67 starts the next script run while the old one waits for its answer: the
    newer run does the step itself and the rest of the plan; the old one records nothing."""
    lab_run = experiment()
    newer = []
    client = Client(during={2: lambda: newer.append(lab_run.run(client, "skipped"))})
    assert lab_run.run(client, "skipped") is False and newer == [True]
    assert done(lab_run.runs) == [("gemma:2b", c, r, True) for c in ("default", "seed")
                                  for r in (1, 2)]
    assert len(client.generated) == 5  # step 2 was asked twice, recorded once


def test_overlapping_script_runs_on_two_threads_record_each_run_once():
    lab_run = experiment()
    waiting, release = threading.Event(), threading.Event()

    def old_run_waits():
        waiting.set()
        release.wait(10)
    client = Client(during={2: old_run_waits})
    old = []
    thread = threading.Thread(target=lambda: old.append(lab_run.run(client, "skipped")))
    thread.start()
    assert waiting.wait(10)
    assert lab_run.run(client, "skipped") is True  # the newer run, while the old one waits
    release.set()
    thread.join(10)
    assert old == [False] and len(lab_run.runs) == 4
    assert [(r.condition, r.repetition) for r in lab_run.runs] == [
        ("default", 1), ("default", 2), ("seed", 1), ("seed", 2)]


def test_coming_back_carries_on_where_it_stopped():
    class Stopped(Exception):
        """What Streamlit raises in a script run that is stopped (the student left the page)."""
    lab_run, client, left = experiment(), Client(), []

    def leave_at_third(index, step):
        if index == 2 and not left:
            left.append(index)
            raise Stopped
    with pytest.raises(Stopped):
        lab_run.run(client, "skipped", leave_at_third)
    assert len(lab_run.runs) == 2 and lab_run.running
    assert lab_run.run(client, "skipped", leave_at_third) is True
    assert len(lab_run.runs) == 4 and len(client.generated) == 4


def test_results_are_computed_once_per_number_of_runs():
    lab_run = experiment()
    lab_run.run(Client(), "skipped")
    shown = lab_run.results()
    assert lab_run.results() is shown and shown.finished[4] == "#4 gemma:2b · seed · 2"
    labels = {"load_s": "load", "prompt_eval_s": "prompt", "eval_s": "eval", "other_s": "other", "seconds": "s",
              "separators": ".,"}
    assert shown.chart(charts.timing, labels) is shown.chart(charts.timing, labels)
    lab_run.runs.append(run("late"))
    assert lab_run.results() is not shown and len(lab_run.results().table) == 5


def test_other_time_is_generations_rule():
    finished = run("A", total_s=3.6, wall_s=3.7)
    assert finished.other_s == pytest.approx(Generation(total_s=3.6, wall_s=3.7).other_s)
    assert run("A", total_s=4.0, wall_s=3.7).other_s == 0.0 and run("", ok=False, wall_s=0.2).other_s is None


def test_each_recorded_run_is_handed_over_to_be_saved_and_comes_back():
    lab_run = experiment()
    client = Client(during={3: raises(CannotConnect("Connection refused", "refused"))})
    saved = []
    lab_run.run(client, "skipped", on_record=lambda e: saved.append(e.as_dict()))
    assert [len(s["runs"]) for s in saved] == [1, 2, 3]  # after every run, the stopping one included
    back = Experiment.from_dict(json.loads(json.dumps(saved[-1])))  # as the file holds it
    assert back.runs == lab_run.runs and back.plan == lab_run.plan
    assert back.error.message == "Connection refused" and not back.running
    cancelled, seen = experiment(), []
    cancelled.run(Client(during={2: lambda: cancelled.cancel()}), "skipped", on_record=seen.append)
    assert len(seen) == 1  # the run refused after Cancel is not handed over


def test_concurrent_mode_sends_the_first_repetition_alone_and_the_others_at_once():
    planned = lab.plan(PROMPT, ["gemma:2b"], lab.ready_made(["seed"]), 4)
    lab_run = Experiment(PROMPT, 48, True, planned, concurrent=True)  # cold runs are off when concurrent
    together = threading.Barrier(3, timeout=10)  # requests 2-4 meet here only if they are in flight together

    class Concurrent(Client):
        def generate(self, model, prompt, stream, options):
            if len(self.generated) >= 1:
                self.generated.append((model, options))
                together.wait()
                return recorded("generate-seed123-2")
            return super().generate(model, prompt, stream, options)
    client, steps = Concurrent(), []
    assert lab_run.run(client, "skipped", lambda index, step: steps.append(index)) is True
    assert steps == [0, 1] and "unload" not in client.calls
    assert [(r.repetition, r.in_flight, r.wave, r.cold) for r in lab_run.runs] == [
        (1, 1, 0, False), (2, 3, 1, False), (3, 3, 1, False), (4, 3, 1, False)]
    shown = lab_run.results()
    [compared] = shown.alone_vs_together
    assert compared.same is True  # the recordings seed123-1 and -2 are the same text
    assert [speed.in_flight for speed in shown.speeds] == [1, 3]
    back = Experiment.from_dict(json.loads(json.dumps(lab_run.as_dict())))
    assert back.concurrent and back.runs == lab_run.runs


def test_the_environment_is_asked_once_per_model_and_kept():
    lab_run = experiment()
    client = Client()
    asked = []
    for name in ("version", "ps", "show"):
        method = getattr(client, name)
        setattr(client, name, lambda *args, method=method, name=name: asked.append(name) or method(*args))
    lab_run.run(client, "skipped")
    assert asked == ["version", "ps", "show"]
    assert lab_run.environment == {"version": "0.33.0", "models": {"gemma:2b": {
        "digest": "b50d6c999e59" + "0" * 52, "processor": "100% CPU", "context_length": 4096,
        "parameters": {"stop": ["<start_of_turn>", "<end_of_turn>"], "temperature": 0.7}}}}
    assert Experiment.from_dict(json.loads(json.dumps(lab_run.as_dict()))).environment == lab_run.environment


def test_an_environment_the_server_does_not_tell_is_unknown():
    lab_run = experiment(repetitions=1)
    client = Client()

    def fails(*args):
        raise CannotConnect("Connection refused", "refused")
    client.version = client.ps = fails
    assert lab_run.run(client, "skipped") is True and all(r.ok for r in lab_run.runs)
    assert lab_run.environment == {"version": None, "models": {"gemma:2b": {}}}
