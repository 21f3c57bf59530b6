"""The lab page's rerun after an unrelated widget (num_predict changed) with the largest experiment
the lab allows (400 runs) vs the course's own (20 runs), AppTest, alternating. Target: at most 1.5.

The runs are injected into session state as an Experiment that has finished, built from the
course's recorded answers; the conditions without a seed get a different text per run, as they
do on a real server, so an unseeded condition has as many distinct answers as runs. The fake
server answers /api/tags and the status checks.
"""
import json
import os
import pathlib

from streamlit.testing.v1 import AppTest

from lib import lab, ui
from lib.lab_runner import Experiment
from tests.benchmarks import alternate_medians
from tests.plugins.fake_ollama import fixture_lines, serve_fake_ollama

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROUNDS = 15


def experiment(models: list[str], conditions: list[lab.Condition], repetitions: int) -> Experiment:
    planned = lab.plan(lab.DEFAULT_PROMPT_ES, models, conditions, repetitions)
    seeded = [json.loads(fixture_lines(f"generate-seed123-{n}")[0]) for n in (1, 2)]
    unseeded = [json.loads(fixture_lines(f"generate-unseeded-{n}")[0]) for n in (1, 2)]
    done = Experiment(lab.DEFAULT_PROMPT_ES, 48, True, planned)
    for number, step in enumerate(planned):
        cold = step.repetition % 2 == 1
        if "seed" in step.condition.options:
            answer = seeded[number % 2]
        else:
            answer = dict(unseeded[number % 2])
            answer["response"] += f" ({number})"  # without a seed, every answer differs
        done.runs.append(lab.finished_run(step, dict(step.condition.options), cold, answer, 3.0 + number / 1000))
    return done


def open_lab(url: str, shown: Experiment) -> AppTest:
    os.environ["OLLAMA_HOST"] = url
    ui.forget_server_lists()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.query_params["lang"] = "en"
    app.run()
    app.switch_page("pages/lab.py").run()
    app.session_state["lab.experiment"] = shown
    app.run()
    assert not app.exception and len(app.dataframe[0].value) == len(shown.runs)
    return app


def rerun(app: AppTest) -> None:
    """Change a widget the results do not depend on."""
    field = app.number_input(key="lab.setting.num_predict")
    field.set_value(56 if field.value == 48 else 48).run()


def main() -> None:
    with serve_fake_ollama() as fake:
        measure(fake.url)


def measure(url: str) -> None:
    pair = lab.ready_made(["default", "seed"])  # the course's two requests: without and with a seed
    course = experiment(["gemma:2b"], pair, 10)
    sweep = lab.sweep("temperature", [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6], None)
    largest = experiment(["gemma:2b", "llava:latest"], pair + sweep, 20)
    small, big = open_lab(url, course), open_lab(url, largest)
    for app in (small, big, small, big):  # warm up: imports, caches, the first results
        rerun(app)
    small_s, big_s = alternate_medians((lambda: rerun(small), lambda: rerun(big)), ROUNDS)
    print(f"lab page rerun after an unrelated widget (AppTest), median of {ROUNDS} alternating rounds:")
    print(f"  {len(course.runs)} runs ({len(course.results().outcomes)} outcomes):  {small_s * 1000:.1f} ms")
    print(f"  {len(largest.runs)} runs ({len(largest.results().outcomes)} outcomes): {big_s * 1000:.1f} ms")
    print(f"  ratio {len(largest.runs)} / {len(course.runs)} runs: {big_s / small_s:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
