"""Real Chromium: the Model library pulls with progress bars, and Cancel stops the download."""
import time

import pytest

from tests.plugins.browser import assert_no_exception, wait_for_app
from tests.plugins.fake_ollama import fixture_lines

pytestmark = pytest.mark.browser


def start_pull(page, board, name):
    page.goto(f"{board.url}/models?lang=en")
    wait_for_app(page)
    field = page.get_by_role("textbox", name="Model name")
    field.fill(name)
    field.press("Enter")
    page.locator('[data-testid="stButton"] button', has_text="Pull").first.click()


def test_pull_shows_progress_then_success(dashboard, page, fake_ollama):
    board = dashboard(fake_ollama.url)
    start_pull(page, board, "gemma:2b")
    page.get_by_text('"gemma:2b" is installed and ready.').wait_for()
    page.locator('[data-testid="stProgress"]', has_text="pulling c1864a5eb193… 100% · 1.7 GB").wait_for()
    page.locator('[data-testid="stProgress"]', has_text="Overall 100% · 1.7 GB of 1.7 GB").wait_for()
    assert_no_exception(page)


def test_cancel_stops_the_download(dashboard, page, fake_ollama):
    fake_ollama.stream("POST", "/api/pull", fixture_lines("pull-gemma-2b") * 20, delay=0.1)
    board = dashboard(fake_ollama.url)
    start_pull(page, board, "gemma:2b")
    page.locator('[data-testid="stProgress"]').first.wait_for()
    page.get_by_role("button", name="Cancel the download").click()
    page.get_by_text('Pull of "gemma:2b" cancelled.').wait_for()
    assert page.get_by_text("is installed and ready").count() == 0
    assert_no_exception(page)
    # the fake saw its client hang up instead of finishing the 440-line stream
    deadline = time.monotonic() + 10
    while "client closed" not in fake_ollama.stream_endings and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fake_ollama.stream_endings == ["client closed"]
