"""Real Chromium: a small experiment in the lab on the built-in server, with its charts."""
import pytest

from tests.plugins.browser import assert_no_exception, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.builtin]


def set_number(page, label, value):
    field = page.get_by_role("spinbutton", name=label)
    field.fill(str(value))
    field.press("Enter")


def test_run_the_course_experiment(dashboard, page, builtin_server):
    board = dashboard(builtin_server.url)
    page.goto(f"{board.url}/lab?lang=en")
    wait_for_app(page)
    set_number(page, "Repetitions", 3)
    set_number(page, "num_predict", 8)
    page.get_by_role("button", name="Run the experiment").click()
    page.get_by_text("3/3 identical").wait_for(timeout=120_000)  # reproducible: seed 123, temperature 0
    page.get_by_text("not reproducible", exact=False).first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    assert page.get_by_text("Where the time goes").count() >= 1
    assert_no_exception(page)
