"""AppTest: experiments in the lab on the built-in server (real seeds, real load times) and on the
fake replaying the course's recorded answers (seeded and not, a server that fails in the middle);
an experiment that comes back in a new session of the same browser (a reload), and in no other;
the base vs instruct lesson on the built-in server's two models and on the fake (its errors)."""
import json
import pathlib
import re

import pytest
from streamlit.testing.v1 import AppTest

from lib import charts, i18n, lab, persistence
from lib.lab_runner import Experiment
from tests.plugins.apptest import metrics, open_app, shown, table_text, texts, values
from tests.plugins.builtin import start_builtin_server
from tests.plugins.fake_ollama import COURSE_ANSWERS, Script, fixture_lines, recorded_answers

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHART_TABS = ("timing", "speed", "cold", "models")


def open_lab(monkeypatch, url, lang="en"):
    return open_app(monkeypatch, url, lang, page="pages/lab.py")


def outcome_metrics(app) -> dict:
    return {label: value for label, value in metrics(app).items() if " · " in label}


def run_experiment(app):
    app.button(key="lab.start").click().run(timeout=300)
    assert not app.exception, [e.value for e in app.exception]
    return app.session_state["lab.experiment"].runs if "lab.experiment" in app.session_state else []


def charts_shown(app, lang="en") -> list[str]:
    """The chart tabs that show a chart: each is drawn only while its tab is open, so open each."""
    shown = []
    for tab in CHART_TABS:
        app.session_state["lab.chart"] = i18n.translate(lang, f"lab.chart.{tab}")
        app.run()
        if app.get("plotly_chart"):
            shown.append(tab)
    return shown


def diff_shown(app) -> str:
    return next(m.value for m in app.main.markdown if "-background[" in m.value or "answers are identical" in m.value)


@pytest.mark.builtin
def test_the_course_experiment_on_the_builtin_server(monkeypatch, builtin_server):
    app = open_lab(monkeypatch, builtin_server.url)
    app.multiselect(key="lab.setting.models").set_value([builtin_server.model])
    app.number_input(key="lab.setting.repetitions").set_value(5)
    app.number_input(key="lab.setting.num_predict").set_value(16)
    runs = run_experiment(app)
    assert len(runs) == 15 and all(r.ok for r in runs)
    shown = outcome_metrics(app)
    model = builtin_server.model
    assert shown[f"{model} · seed 123 only (default temperature)"] == "5/5 identical"
    assert shown[f"{model} · temperature 0 only"] == "5/5 identical"
    distinct = shown[f"{model} · default (no seed)"]
    assert distinct.endswith("distinct of 5") and int(distinct.split()[0]) >= 2
    table = app.dataframe[0].value
    assert len(table) == 15 and table["tokens_per_second"].min() > 0
    assert charts_shown(app) == ["timing", "speed", "models"]  # cold and warm needs cold runs


@pytest.mark.builtin
def test_temperature_sweep_with_seed_and_cold_runs(monkeypatch, builtin_server):
    app = open_lab(monkeypatch, builtin_server.url, "es")
    app.multiselect(key="lab.setting.models").set_value([builtin_server.model])
    app.multiselect(key="lab.setting.ready").set_value([])
    app.selectbox(key="lab.setting.sweep_option").set_value("temperature")
    app.text_input(key="lab.setting.sweep_values").set_value("0, 0.8, 1.5")
    app.number_input(key="lab.setting.sweep_seed").set_value(7)
    app.number_input(key="lab.setting.repetitions").set_value(2)
    app.number_input(key="lab.setting.num_predict").set_value(12)
    app.toggle(key="lab.setting.cold").set_value(True)
    runs = run_experiment(app)
    shown = outcome_metrics(app)
    model = builtin_server.model
    for temperature in ("0", "0.8", "1.5"):
        assert shown[f"{model} · temperature={temperature}, seed=7"] == "2/2 idénticas"
    cold = [r.load_s for r in runs if r.cold]
    warm = [r.load_s for r in runs if not r.cold]
    assert len(cold) == len(warm) == 3 and min(cold) > max(warm)
    assert charts_shown(app, "es") == list(CHART_TABS)
    rows = table_text(app.dataframe[0])  # the run table in Spanish: decimal commas, the data still numbers
    assert all(re.fullmatch(r"\d+,\d{3}", row["total_s"]) and re.fullmatch(r"\d+,\d", row["tokens_per_second"])
               for row in rows), rows[0]
    assert app.dataframe[0].value["total_s"].dtype == float


@pytest.fixture(params=["default", "1"])
def any_parallel_server(request, builtin_server, builtin_store, tmp_path):
    """The built-in server with its default --parallel, and one started with --parallel 1."""
    if request.param == "default":
        yield builtin_server
        return
    server = start_builtin_server(tmp_path / "server.log", "--parallel", request.param, store=builtin_store)
    yield server
    server.stop()


@pytest.mark.builtin
def test_concurrent_requests_on_the_builtin_server(monkeypatch, any_parallel_server):
    """Whatever its --parallel: with one slot the batch waits in the queue, with several it is batched."""
    builtin_server = any_parallel_server
    app = open_lab(monkeypatch, builtin_server.url)
    app.multiselect(key="lab.setting.models").set_value([builtin_server.model])
    app.multiselect(key="lab.setting.ready").set_value(["seed"])
    app.number_input(key="lab.setting.repetitions").set_value(4)
    app.number_input(key="lab.setting.num_predict").set_value(12)
    app.toggle(key="lab.setting.concurrent").set_value(True)
    runs = run_experiment(app)
    assert [(r.ok, r.in_flight) for r in runs] == [(True, 1), (True, 3), (True, 3), (True, 3)]
    assert all(r.output_tokens for r in runs)
    assert "Alone and batched with others." in texts(app)
    speeds = next(d.value for d in app.dataframe if "requests at once" in d.value.columns)
    assert speeds["requests at once"].tolist() == [1, 3]
    environment = app.session_state["lab.experiment"].environment
    assert environment["version"] and environment["models"][builtin_server.model]["digest"]


def test_bad_input_is_refused(monkeypatch, fake_ollama):
    app = open_lab(monkeypatch, fake_ollama.url)
    app.text_area(key="lab.setting.prompt").set_value("   ")
    run_experiment(app)
    assert any("Type a prompt" in e.value for e in app.error)
    repetitions = app.number_input(key="lab.setting.repetitions")
    assert (repetitions.min, repetitions.max) == (1, lab.MAX_REPETITIONS) and "(1 to 20)" in repetitions.help
    assert fake_ollama.bodies("/api/generate") == []


def test_wrong_option_type_blocks_the_run(monkeypatch, fake_ollama):
    app = open_lab(monkeypatch, fake_ollama.url)
    app.text_area(key="lab.setting.custom").set_value('hot: {"temperature": "hot"}').run()
    assert any('"temperature" must be of type float' in e.value for e in app.error)
    assert app.button(key="lab.start").disabled


def test_a_removed_option_is_sent_on_purpose_and_changes_nothing(monkeypatch, fake_ollama):
    fake_ollama.sequence("POST", "/api/generate", recorded_answers("generate-seed123-1", "generate-seed123-2"))
    app = open_lab(monkeypatch, fake_ollama.url)
    app.multiselect(key="lab.setting.ready").set_value(["seed", "seed_removed_option"])
    app.number_input(key="lab.setting.repetitions").set_value(1).run()
    assert any('"mirostat" no longer exists' in w and "invalid option provided" in w for w in values(app.warning))
    assert not app.button(key="lab.start").disabled
    run_experiment(app)
    assert [body["options"] for body in fake_ollama.bodies("/api/generate")] == [
        {"seed": 123, "num_predict": 48}, {"seed": 123, "mirostat": 2, "num_predict": 48}]
    assert app.session_state["lab.experiment"].runs[0].text == app.session_state["lab.experiment"].runs[1].text


def test_the_separated_conditions_and_why_a_seed_is_not_enough(monkeypatch, closed_port):
    app = open_lab(monkeypatch, closed_port, "es")
    assert app.multiselect(key="lab.setting.ready").value == ["default", "seed", "temperature_0"]
    assert set(app.multiselect(key="lab.setting.ready").options) >= {
        "solo seed 123 (temperatura por defecto)", "solo temperature 0", "temperature 0 y seed 1",
        "temperature 0 y seed 2", "seed 123 y num_ctx 2048 fijo"}
    why = texts(app)
    assert "La semilla solo fija el azar del muestreo" in why and "cache_prompt" in why and "4990" in why
    assert "reproducible (seed 123, temperature 0)" not in why


def test_the_lab_sheet_records_the_environment(monkeypatch, fake_ollama):
    answer = {**json.loads(fixture_lines("generate-seed123-1")[0]), "done_reason": "length"}
    fake_ollama.sequence("POST", "/api/generate", [Script(body=answer)] * 2)
    app = open_lab(monkeypatch, fake_ollama.url)
    app.multiselect(key="lab.setting.ready").set_value(["seed"])
    app.number_input(key="lab.setting.repetitions").set_value(2)
    run_experiment(app)
    assert any("covers only their first 48 tokens" in i for i in values(app.info))  # done_reason: length
    experiment = app.session_state["lab.experiment"]
    assert experiment.environment == {"version": "0.33.0", "models": {"gemma:2b": {
        "digest": "b50d6c999e592ae4f79acae23b4feaefbdfceaa7cd366df2610e3072c052a160",
        "processor": "60%/40% CPU/GPU", "context_length": 4096, "parameters": {"stop": ["<end_of_turn>"]}}}}
    sheet_button = next(d for d in app.get("download_button") if d.label == "Lab sheet (Markdown)")
    assert sheet_button is not None
    labels = {k: i18n.translate("en", f"lab.sheet.{k}") for k in ("title", "prompt", "model", "condition", "options",
              "result", "speed", "version", "digest", "processor", "context_length", "effective")}
    labels.update(identical=lambda n: f"{n}/{n}", distinct=lambda distinct, n: "", failed=lambda n: "")
    sheet = lab.lab_sheet(experiment.prompt, experiment.runs, labels, experiment.environment)
    assert "- **Ollama version**: 0.33.0" in sheet and "processor 60%/40% CPU/GPU · context 4096" in sheet
    assert 'stop=["<end_of_turn>"] (model)' in sheet and "seed=123 (request)" in sheet


def test_concurrent_repetitions_alone_and_together(monkeypatch, fake_ollama):
    fake_ollama.sequence("POST", "/api/generate", recorded_answers(
        "generate-seed123-1", "generate-seed123-2", "generate-seed123-1", delay=0.2))
    app = open_lab(monkeypatch, fake_ollama.url)
    app.multiselect(key="lab.setting.ready").set_value(["seed"])
    app.number_input(key="lab.setting.repetitions").set_value(3)
    app.toggle(key="lab.setting.cold").set_value(True)
    app.toggle(key="lab.setting.concurrent").set_value(True).run()
    assert app.toggle(key="lab.setting.cold").disabled  # cold runs would unload a model others are using
    runs = run_experiment(app)
    assert [(r.repetition, r.in_flight, r.cold) for r in runs] == [(1, 1, False), (2, 2, False), (3, 2, False)]
    assert "unload" not in json.dumps(fake_ollama.bodies("/api/generate"))
    page = texts(app)
    assert "Alone and batched with others." in page and "the same text in all of them" in page
    speeds = next(d.value for d in app.dataframe if "requests at once" in d.value.columns)
    assert speeds["requests at once"].tolist() == [1, 2] and speeds["runs"].tolist() == [1, 2]


def test_server_down_mid_run_keeps_finished_runs(monkeypatch, fake_ollama):
    fake_ollama.sequence("POST", "/api/generate",
                         recorded_answers("generate-seed123-1", "generate-seed123-2") + [Script(drop=True)])
    app = open_lab(monkeypatch, fake_ollama.url)
    app.multiselect(key="lab.setting.ready").set_value(["seed"])
    app.number_input(key="lab.setting.repetitions").set_value(5)
    runs = run_experiment(app)
    assert [r.ok for r in runs] == [True, True, False]  # the experiment stopped at the failure
    assert len(fake_ollama.bodies("/api/generate")) == 3
    assert outcome_metrics(app)["gemma:2b · seed 123 only (default temperature)"] == "2/2 identical"
    assert any("Could not connect" in e.value for e in app.error)
    assert any("The 3 finished runs are kept." in i.value for i in app.info)
    assert app.dataframe[0].value["ok"].tolist() == [True, True, False]


def test_a_model_that_disappears_is_skipped(monkeypatch, fake_ollama):
    app = open_lab(monkeypatch, fake_ollama.url)
    app.multiselect(key="lab.setting.models").set_value(["gemma:2b", "llava:latest"])
    app.multiselect(key="lab.setting.ready").set_value(["seed"])
    app.number_input(key="lab.setting.repetitions").set_value(2)
    fake_ollama.sequence("POST", "/api/generate", [Script(404, {"error": "model 'gemma:2b' not found"})])
    runs = run_experiment(app)
    assert [(r.model, r.ok) for r in runs] == [("gemma:2b", False), ("gemma:2b", False),
                                               ("llava:latest", True), ("llava:latest", True)]
    assert "not found" in runs[0].error and "skipped" in runs[1].error
    assert len(fake_ollama.bodies("/api/generate")) == 3  # gemma once, then llava twice
    shown = outcome_metrics(app)
    assert shown["gemma:2b · seed 123 only (default temperature)"] == "0 distinct of 0"
    assert shown["llava:latest · seed 123 only (default temperature)"] == "2/2 identical"


def run_the_course_experiment(monkeypatch, fake_ollama):
    """The course's two conditions, twice each, answered by its recordings: (page, runs)."""
    fake_ollama.sequence("POST", "/api/generate", recorded_answers(*COURSE_ANSWERS))
    app = open_lab(monkeypatch, fake_ollama.url)
    app.multiselect(key="lab.setting.ready").set_value(["default", "seed"])
    app.number_input(key="lab.setting.repetitions").set_value(2)
    return app, run_experiment(app)


def test_the_course_answers_seeded_identical_unseeded_distinct(monkeypatch, fake_ollama):
    app, runs = run_the_course_experiment(monkeypatch, fake_ollama)
    assert [body["options"] for body in fake_ollama.bodies("/api/generate")] == [{"num_predict": 48}] * 2 + [
        {"seed": 123, "num_predict": 48}] * 2
    assert outcome_metrics(app) == {"gemma:2b · default (no seed)": "2 distinct of 2",
                                    "gemma:2b · seed 123 only (default temperature)": "2/2 identical"}
    assert runs[0].text.startswith("El cielo no es azúl. El cielo es una color azul")
    assert len(app.dataframe[0].value) == 4 and [d.label for d in app.get("download_button")] == [
        "CSV", "JSON", "Lab sheet (Markdown)"]
    app.session_state["lab.outputs.0.open"] = True  # the answers are drawn only while open
    app.run()
    assert [t.value for t in app.text] == [runs[0].text, runs[1].text]


def test_picking_runs_to_diff_does_not_redraw_the_charts(monkeypatch, fake_ollama):
    calls = []
    for name in ("timing", "speed", "cold_and_warm", "models_compared"):
        monkeypatch.setattr(charts, name, (lambda draw, name: lambda *a: calls.append(name) or draw(*a))(
            getattr(charts, name), name))
    monkeypatch.setattr(lab, "table", (lambda table: lambda runs: calls.append("table") or table(runs))(lab.table))
    fake_ollama.sequence("POST", "/api/generate", recorded_answers(
        "generate-unseeded-1", "generate-unseeded-2", "generate-seed123-1", "generate-seed123-2"))
    app = open_lab(monkeypatch, fake_ollama.url)
    app.multiselect(key="lab.setting.ready").set_value(["default", "seed"])
    app.number_input(key="lab.setting.repetitions").set_value(2)
    run_experiment(app)
    assert calls == ["table", "timing"]  # the results once; only the open tab's chart
    assert ":red-background[~~una~~]" in diff_shown(app)  # run 1 against run 4: they differ
    app.selectbox(key="lab.diff_a").set_value(3).run()
    assert diff_shown(app) == "The two answers are identical."  # the two seeded runs
    app.number_input(key="lab.setting.num_predict").set_value(64).run()  # any other widget
    assert calls == ["table", "timing"] and len(app.get("plotly_chart")) == 1
    app.session_state["lab.chart"] = "Tokens per second"
    app.run()
    app.session_state["lab.chart"] = "Where the time goes"
    app.run()
    assert calls == ["table", "timing", "speed"]  # each chart built once, whichever tab is open


def test_coming_back_carries_on_without_repeating_a_run(monkeypatch, fake_ollama):
    planned = lab.plan("hola", ["gemma:2b"], lab.ready_made(["seed"]), 4)
    experiment = Experiment("hola", 48, False, planned)
    experiment.runs += [lab.finished_run(step, {"seed": 123}, False, json.loads(fixture_lines(name)[0]), 3.0)
                        for step, name in zip(planned, ("generate-seed123-1", "generate-seed123-2"))]
    app = open_lab(monkeypatch, fake_ollama.url)  # the student left the page after two runs
    fake_ollama.sequence("POST", "/api/generate", recorded_answers("generate-seed123-1", "generate-seed123-2"))
    app.session_state["lab.experiment"] = experiment
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(fake_ollama.bodies("/api/generate")) == 2  # only the two runs left
    assert [r.repetition for r in experiment.runs] == [1, 2, 3, 4]
    assert outcome_metrics(app) == {"gemma:2b · seed": "4/4 identical"}


def test_option_reference_lists_the_course_table(monkeypatch, closed_port):
    app = open_lab(monkeypatch, closed_port, "es")
    course = app.dataframe[-1].value
    assert len(course) == 31
    row = course[course["Opción"] == "num_gqa"].iloc[0]
    assert row["Estado hoy"] == "eliminada en 0.1.35 (se ignora)" and row["Veredicto"] == "❌ incorrecta"
    assert "grouped-query attention" in row["Qué hace de verdad"]
    current = app.dataframe[-2].value
    assert set(current["Opción"]) >= {"seed", "temperature", "num_ctx", "min_p", "draft_num_predict"}
    seed = course[course["Opción"] == "seed"].iloc[0]
    assert seed["Veredicto"] == "⚠️ imprecisa" and "digest" in seed["Qué hace de verdad"]
    assert seed["Ejemplo de la documentación de Ollama"] == "42"
    assert "no una recomendación" in texts(app)


def test_the_reference_says_what_runs_on_the_chosen_model(monkeypatch, fake_ollama):
    app = open_lab(monkeypatch, fake_ollama.url, "es")
    current = next(d.value for d in app.dataframe if "Lo que corre en gemma:2b sin enviar nada" in d.value.columns)
    runs = dict(zip(current["Opción"], current["Lo que corre en gemma:2b sin enviar nada"]))
    assert runs["stop"] == '["<end_of_turn>"] (PARAMETER del modelo)'  # the model's Modelfile
    assert runs["temperature"] == "0.8 (servidor)" and runs["num_ctx"] == "—"  # num_ctx: the server picks it


def reload(monkeypatch, url, browser: str) -> AppTest:
    """A new session of the browser whose id is `browser` (the `?s=` of its URL): what F5 opens."""
    monkeypatch.setenv("OLLAMA_HOST", url)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    app.query_params.update(lang="en", s=browser)
    app.run()
    app.switch_page("pages/lab.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_the_results_come_back_after_a_reload_and_only_in_this_browser(monkeypatch, fake_ollama):
    app, runs = run_the_course_experiment(monkeypatch, fake_ollama)
    browser = app.query_params["s"]
    again = reload(monkeypatch, fake_ollama.url, browser)
    assert outcome_metrics(again) == {"gemma:2b · default (no seed)": "2 distinct of 2",
                                      "gemma:2b · seed 123 only (default temperature)": "2/2 identical"}
    assert again.session_state["lab.experiment"].runs == runs
    assert again.dataframe[0].value.equals(app.dataframe[0].value)
    assert len(fake_ollama.bodies("/api/generate")) == 4  # shown from the file, not asked again
    other = open_lab(monkeypatch, fake_ollama.url)  # another browser
    assert outcome_metrics(other) == {} and "lab.experiment" not in other.session_state


def test_an_experiment_cut_short_by_a_reload_carries_on(monkeypatch, fake_ollama):
    planned = lab.plan("hola", ["gemma:2b"], lab.ready_made(["seed"]), 3)
    experiment = Experiment("hola", 48, False, planned)
    experiment.runs.append(lab.finished_run(planned[0], {"seed": 123}, False,
                                            json.loads(fixture_lines("generate-seed123-1")[0]), 3.0))
    browser = persistence.new_id()
    persistence.Store(persistence.data_dir() / persistence.FILE_NAME).save_experiment(browser, experiment.as_dict())
    fake_ollama.sequence("POST", "/api/generate", recorded_answers("generate-seed123-1", "generate-seed123-2"))
    again = reload(monkeypatch, fake_ollama.url, browser)
    assert len(fake_ollama.bodies("/api/generate")) == 2  # only the runs left
    assert outcome_metrics(again) == {"gemma:2b · seed": "3/3 identical"}
    saved = persistence.Store(persistence.data_dir() / persistence.FILE_NAME).experiment(browser)
    assert len(saved["runs"]) == 3  # written after every run


def test_a_cancelled_experiment_stays_cancelled_after_a_reload(monkeypatch, fake_ollama):
    planned = lab.plan("hola", ["gemma:2b"], lab.ready_made(["seed"]), 3)
    experiment = Experiment("hola", 48, False, planned, cancelled=True)
    browser = persistence.new_id()
    persistence.Store(persistence.data_dir() / persistence.FILE_NAME).save_experiment(browser, experiment.as_dict())
    reload(monkeypatch, fake_ollama.url, browser)
    assert fake_ollama.bodies("/api/generate") == []


def test_a_file_that_cannot_be_used_is_said_and_the_lab_works(monkeypatch, fake_ollama, data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / persistence.FILE_NAME).write_bytes(b"not a database " * 100)
    fake_ollama.sequence("POST", "/api/generate", recorded_answers("generate-seed123-1", "generate-seed123-2"))
    app = open_lab(monkeypatch, fake_ollama.url)
    app.multiselect(key="lab.setting.ready").set_value(["seed"])
    app.number_input(key="lab.setting.repetitions").set_value(2)
    run_experiment(app)
    assert outcome_metrics(app) == {"gemma:2b · seed 123 only (default temperature)": "2/2 identical"}
    assert any("Your work cannot be saved on this dashboard" in w for w in values(app.warning))


def lesson_figures(app, label: str) -> list[str]:
    """One figure of each answer of the base vs instruct lesson, instruct first."""
    return [shown(m.value) for m in app.metric if m.label == label]


@pytest.mark.builtin
def test_base_vs_instruct_on_the_builtin_server(monkeypatch, builtin_server):
    app = open_lab(monkeypatch, builtin_server.url)
    assert app.selectbox(key="lab.setting.lesson_instruct").value == builtin_server.instruct_model
    assert app.selectbox(key="lab.setting.lesson_base").value == builtin_server.model
    assert app.text_input(key="lab.setting.lesson_prompt").value == "What is the capital of France?"
    app.number_input(key="lab.setting.lesson_num_predict").set_value(32)
    app.button(key="lab.lesson.run").click().run(timeout=120)
    assert lesson_figures(app, "done_reason") == ["stop", "length"]
    instruct_tokens, base_tokens = map(int, lesson_figures(app, "eval_count"))
    assert instruct_tokens < 32 and base_tokens == 32
    instruct_prompt, base_prompt = map(int, lesson_figures(app, "prompt_eval_count"))
    assert instruct_prompt > base_prompt  # the same prompt, wrapped in the chat template's turns
    assert "It ended its turn by itself: it generated the end-of-turn token." in values(app.success)
    assert "Cut off by num_predict (32 tokens): nothing told it to stop." in values(app.warning)
    assert "Paris" in app.text[0].value and len(app.text) == 2
    assert values(app.subheader)[-2:] == [builtin_server.instruct_model, builtin_server.model]
    assert not app.error


def test_base_vs_instruct_side_by_side(monkeypatch, fake_ollama):
    fake_ollama.sequence("POST", "/api/generate", recorded_answers("builtin-generate-instruct", "builtin-generate-base"))
    app = open_lab(monkeypatch, fake_ollama.url, "es")
    assert app.text_input(key="lab.setting.lesson_prompt").value == "¿Cuál es la capital de Francia?"
    assert (app.selectbox(key="lab.setting.lesson_instruct").value,
            app.selectbox(key="lab.setting.lesson_base").value) == ("gemma:2b", "llava:latest")  # the first two
    app.button(key="lab.lesson.run").click().run()
    assert [(body["model"], body["options"]) for body in fake_ollama.bodies("/api/generate")] == [
        ("gemma:2b", {"temperature": 0, "num_predict": 48}), ("llava:latest", {"temperature": 0, "num_predict": 48})]
    assert lesson_figures(app, "done_reason") == ["stop", "length"]
    assert lesson_figures(app, "prompt_eval_count") == ["16", "8"] and lesson_figures(app, "eval_count") == ["7", "32"]
    assert "Terminó su turno por sí mismo: generó el token de fin de turno." in values(app.success)
    assert "Se cortó al llegar a num_predict (48 tokens): nada le indicó que parara." in values(app.warning)
    assert [t.value for t in app.text] == ["The capital of France is Paris.",
                                           "The capital of France is Paris.\n\nWhat is the capital of France?\n\n"
                                           "The capital of France is Paris.\n\nWhat is the capital of France?"]
    app.number_input(key="lab.setting.repetitions").set_value(3).run()  # another widget of the page
    assert lesson_figures(app, "done_reason") == ["stop", "length"]  # the lesson stays
    assert len(fake_ollama.bodies("/api/generate")) == 2


def test_base_vs_instruct_errors(monkeypatch, fake_ollama):
    app = open_lab(monkeypatch, fake_ollama.url)
    app.selectbox(key="lab.setting.lesson_base").set_value("gemma:2b")
    app.button(key="lab.lesson.run").click().run()
    assert "Pick two different models: one instruct, one base." in values(app.error)
    assert fake_ollama.bodies("/api/generate") == []
    fake_ollama.sequence("POST", "/api/generate", [Script(404, {"error": "model 'gemma:2b' not found"}),
                                                   *recorded_answers("builtin-generate-base")])
    app.selectbox(key="lab.setting.lesson_base").set_value("llava:latest")
    app.button(key="lab.lesson.run").click().run()
    assert any('The model "gemma:2b" is not installed' in e for e in values(app.error))
    assert lesson_figures(app, "done_reason") == ["length"]  # the other side is still asked and shown
