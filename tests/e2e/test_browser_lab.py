"""Real Chromium: the lab with the course's recorded answers (its result views are fragments and
lazy widgets: the answers, the diff, the chart tabs, the exports made on click); Cancel and a visit
to another page in the middle of an experiment (Streamlit's overlapping script runs: nothing lost,
nothing recorded twice); results that survive a reload (F5); and a small experiment on the
built-in server with its charts."""
import pathlib
import re

import pytest

from tests.plugins.browser import assert_no_exception, wait_for_app
from tests.plugins.fake_ollama import COURSE_ANSWERS, recorded_answers

pytestmark = pytest.mark.browser


def set_number(page, label, value):
    field = page.get_by_role("spinbutton", name=label)
    field.fill(str(value))
    field.press("Enter")


def pick(page, label, option):
    wait_for_app(page)  # a rerun in progress would close the list again
    box = page.get_by_role("combobox", name=label)
    box.click()
    box.press("ArrowDown")  # opens Streamlit's list of options
    page.get_by_role("option", name=option).click()


def remove_condition(page, name):
    page.locator('[data-testid="stMultiSelect"]', has_text=name).get_by_role(
        "button", name=re.compile(f"Remove {re.escape(name)}")).click()
    wait_for_app(page)


def run_the_course_experiment(dashboard, page, fake_ollama) -> None:
    """The course's two requests (no seed; seed 123), twice each, answered by its recordings."""
    fake_ollama.sequence("POST", "/api/generate", recorded_answers(*COURSE_ANSWERS))
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/lab?lang=en")
    wait_for_app(page)
    remove_condition(page, "temperature 0 only")
    set_number(page, "Repetitions", 2)
    page.get_by_role("button", name="Run the experiment").click()
    page.get_by_text("2/2 identical").wait_for()


def test_the_results_of_the_recorded_answers(dashboard, page, fake_ollama):
    run_the_course_experiment(dashboard, page, fake_ollama)
    page.get_by_text("2 distinct of 2").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()

    page.get_by_text("Answers of gemma:2b · default (no seed) (2 distinct)").click()  # built when opened
    page.locator('[data-testid="stText"]', has_text="debido al dispersión del luz solar").wait_for()
    pick(page, "Run A", "#3 gemma:2b · seed 123 only (default temperature) · 1")
    page.get_by_text("The two answers are identical.").wait_for()
    page.get_by_role("tab", name="Tokens per second").click()
    page.locator(".js-plotly-plot .boxlayer").first.wait_for()  # the speed chart: one box per model
    with page.expect_download() as download:
        page.get_by_role("button", name="Lab sheet (Markdown)").click()
    sheet = pathlib.Path(download.value.path()).read_text(encoding="utf-8")
    assert "| `gemma:2b` | seed 123 only (default temperature) | `{\"seed\": 123, \"num_predict\": 48}` " \
           "| 2/2 identical |" in sheet
    assert "- **Ollama version**: 0.33.0" in sheet and "processor 60%/40% CPU/GPU · context 4096" in sheet
    assert_no_exception(page)


def test_the_results_survive_a_reload(dashboard, page, fake_ollama):
    run_the_course_experiment(dashboard, page, fake_ollama)
    wait_for_app(page)
    page.reload()  # F5
    wait_for_app(page)
    page.get_by_text("2/2 identical").wait_for()
    page.get_by_text("2 distinct of 2").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    assert len(fake_ollama.bodies("/api/generate")) == 4  # shown from the file, not run again
    assert_no_exception(page)


def start_six_slow_runs(dashboard, page, fake_ollama):
    fake_ollama.sequence("POST", "/api/generate", recorded_answers(*["generate-seed123-1"] * 7, delay=0.8))
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/lab?lang=en")
    wait_for_app(page)
    set_number(page, "Repetitions", 6)
    remove_condition(page, "default (no seed)")
    remove_condition(page, "temperature 0 only")  # only seed 123
    page.get_by_role("button", name="Run the experiment").click()
    page.get_by_text("Run 3 of 6").wait_for()


def test_cancel_keeps_the_runs_so_far(dashboard, page, fake_ollama):
    start_six_slow_runs(dashboard, page, fake_ollama)
    page.get_by_role("button", name="Cancel").click()
    message = page.get_by_text(re.compile(r"Experiment cancelled after \d of 6 runs"))
    message.wait_for()
    done = int(re.search(r"after (\d)", message.inner_text()).group(1))
    page.get_by_text(f"{done}/{done} identical").wait_for()  # the runs so far, kept
    assert 2 <= done < 6 and len(fake_ollama.bodies("/api/generate")) <= done + 1
    assert_no_exception(page)


def test_coming_back_carries_on_without_repeating_a_run(dashboard, page, fake_ollama):
    start_six_slow_runs(dashboard, page, fake_ollama)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Server").click()
    page.locator("h1").filter(has_text="Server").first.wait_for()
    page.locator('[data-testid="stSidebarNav"] a', has_text="Options & seed lab").click()
    page.get_by_text("6/6 identical").wait_for()  # six runs, each recorded once
    assert 6 <= len(fake_ollama.bodies("/api/generate")) <= 7  # at most the one in flight asked again
    assert_no_exception(page)


@pytest.mark.builtin
def test_run_the_course_experiment(dashboard, page, builtin_server):
    board = dashboard(builtin_server.url)
    page.goto(f"{board.url}/lab?lang=en")
    wait_for_app(page)
    set_number(page, "Repetitions", 3)
    set_number(page, "num_predict", 8)
    page.get_by_role("button", name="Run the experiment").click()
    page.get_by_text("3/3 identical").first.wait_for(timeout=120_000)  # seed 123; temperature 0
    assert page.get_by_text("3/3 identical").count() == 2
    page.get_by_text("default (no seed)", exact=False).first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    assert page.get_by_text("Where the time goes").count() >= 1
    assert_no_exception(page)


@pytest.mark.builtin
def test_base_vs_instruct_lesson(dashboard, page, builtin_server):
    board = dashboard(builtin_server.url)
    page.goto(f"{board.url}/lab?lang=en")
    wait_for_app(page)
    page.get_by_text("Base vs instruct: why one model ends its turn").click()
    set_number(page, "num_predict (per answer)", 32)
    wait_for_app(page)
    page.get_by_role("button", name="Send to both").click()
    page.get_by_text("It ended its turn by itself: it generated the end-of-turn token.").wait_for(timeout=120_000)
    page.get_by_text("Cut off by num_predict (32 tokens): nothing told it to stop.").wait_for()
    page.locator('[data-testid="stText"]', has_text="Paris").first.wait_for()
    reasons = page.locator('[data-testid="stMetric"]', has_text="done_reason")
    reasons.nth(1).wait_for()  # a rerun of the lesson can be redrawing them (CI saw none for a moment)
    assert [figure.split() for figure in reasons.all_inner_texts()] == [
        ["done_reason", "stop"], ["done_reason", "length"]], reasons.all_inner_texts()
    assert_no_exception(page)
