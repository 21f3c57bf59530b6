"""AppTest: experiments in the lab on the built-in server (real seeds, real load times) and the fake
(a server that fails in the middle)."""
import pytest

from tests.plugins.apptest import open_app


def open_lab(monkeypatch, url, lang="en"):
    return open_app(monkeypatch, url, lang, page="pages/lab.py")


def outcome_metrics(app) -> dict:
    return {m.label: m.value for m in app.metric if " · " in m.label}


def run_experiment(app):
    app.button(key="lab.start").click().run(timeout=300)
    assert not app.exception, [e.value for e in app.exception]
    return app.session_state["lab.runs"]


@pytest.mark.builtin
def test_the_course_experiment_on_the_builtin_server(monkeypatch, builtin_server):
    app = open_lab(monkeypatch, builtin_server.url)
    app.number_input(key="lab.setting.repetitions").set_value(5)
    app.number_input(key="lab.setting.num_predict").set_value(16)
    runs = run_experiment(app)
    assert len(runs) == 10 and all(r.ok for r in runs)
    shown = outcome_metrics(app)
    model = builtin_server.model
    assert shown[f"{model} · reproducible (seed 123, temperature 0)"] == "5/5 identical"
    distinct = shown[f"{model} · not reproducible"]
    assert distinct.endswith("distinct of 5") and int(distinct.split()[0]) >= 2
    assert len(app.get("plotly_chart")) == 3  # timing, speed, models (cold/warm needs cold runs)
    table = app.dataframe[0].value
    assert len(table) == 10 and table["tokens_per_second"].min() > 0


@pytest.mark.builtin
def test_temperature_sweep_with_seed_and_cold_runs(monkeypatch, builtin_server):
    app = open_lab(monkeypatch, builtin_server.url, "es")
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
    assert len(app.get("plotly_chart")) == 4


def test_bad_input_is_refused(monkeypatch, fake_ollama):
    app = open_lab(monkeypatch, fake_ollama.url)
    app.text_area(key="lab.setting.prompt").set_value("   ")
    run_experiment(app)
    assert any("Type a prompt" in e.value for e in app.error)
    app.text_area(key="lab.setting.prompt").set_value("hola")
    app.number_input(key="lab.setting.repetitions").set_value(0)
    run_experiment(app)
    assert any("Repetitions go from 1 to 20" in e.value for e in app.error)
    assert fake_ollama.bodies("/api/generate") == []


def test_wrong_option_type_blocks_the_run(monkeypatch, fake_ollama):
    app = open_lab(monkeypatch, fake_ollama.url)
    app.text_area(key="lab.setting.custom").set_value('hot: {"temperature": "hot"}').run()
    assert any('"temperature" must be of type float' in w.value for w in app.warning)
    assert app.button(key="lab.start").disabled


def test_server_down_mid_run_keeps_finished_runs(monkeypatch, fake_ollama):
    import json
    from tests.plugins.fake_ollama import Script, fixture_lines
    answer = json.loads(fixture_lines("generate-seed123-1")[0])
    fake_ollama.sequence("POST", "/api/generate", [Script(body=answer), Script(body=answer), Script(drop=True)])
    app = open_lab(monkeypatch, fake_ollama.url)
    app.multiselect(key="lab.setting.ready").set_value(["reproducible"])
    app.number_input(key="lab.setting.repetitions").set_value(5)
    runs = run_experiment(app)
    assert [r.ok for r in runs] == [True, True, False]  # the experiment stopped at the failure
    assert len(fake_ollama.bodies("/api/generate")) == 3
    assert outcome_metrics(app)["gemma:2b · reproducible (seed 123, temperature 0)"] == "2/2 identical"
    assert any("Could not connect" in e.value for e in app.error)
    assert any("The 3 finished runs are kept." in i.value for i in app.info)
    assert app.dataframe[0].value["ok"].tolist() == [True, True, False]


def test_a_model_that_disappears_is_skipped(monkeypatch, fake_ollama):
    app = open_lab(monkeypatch, fake_ollama.url)
    app.multiselect(key="lab.setting.models").set_value(["gemma:2b", "llava:latest"])
    app.multiselect(key="lab.setting.ready").set_value(["reproducible"])
    app.number_input(key="lab.setting.repetitions").set_value(2)
    from tests.plugins.fake_ollama import Script
    fake_ollama.sequence("POST", "/api/generate", [Script(404, {"error": "model 'gemma:2b' not found"})])
    runs = run_experiment(app)
    assert [(r.model, r.ok) for r in runs] == [("gemma:2b", False), ("gemma:2b", False),
                                               ("llava:latest", True), ("llava:latest", True)]
    assert "not found" in runs[0].error and "skipped" in runs[1].error
    assert len(fake_ollama.bodies("/api/generate")) == 3  # gemma once, then llava twice
    shown = outcome_metrics(app)
    assert shown["gemma:2b · reproducible (seed 123, temperature 0)"] == "0 distinct of 0"
    assert shown["llava:latest · reproducible (seed 123, temperature 0)"] == "2/2 identical"


def test_option_reference_lists_the_course_table(monkeypatch, closed_port):
    app = open_lab(monkeypatch, closed_port, "es")
    course = app.dataframe[-1].value
    assert len(course) == 31
    row = course[course["Opción"] == "num_gqa"].iloc[0]
    assert row["Estado hoy"] == "eliminada en 0.1.35 (se ignora)" and row["Descripción del curso"] == "❌ incorrecta"
    assert "grouped-query attention" in row["Qué hace de verdad"]
    current = app.dataframe[-2].value
    assert set(current["Opción"]) >= {"seed", "temperature", "num_ctx", "min_p"}
