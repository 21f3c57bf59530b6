"""Real Chromium: the Model library pulls with progress bars, and Cancel stops the download."""
import time

import pytest

from tests.plugins.browser import assert_no_exception, wait_for_app
from tests.plugins.fake_ollama import TAGS, fixture_lines

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


def test_delete_asks_in_a_dialog_that_closes_once_done(dashboard, page, fake_ollama):
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/models?lang=en")
    wait_for_app(page)
    page.get_by_role("button", name="Delete this model").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text('Delete "gemma:2b" from the server?').wait_for()
    assert fake_ollama.bodies("/api/delete") == []
    dialog.get_by_role("button", name="Yes, delete").click()
    page.get_by_text('"gemma:2b" was deleted from the server.').wait_for()
    dialog.wait_for(state="detached")
    assert fake_ollama.bodies("/api/delete") == [{"model": "gemma:2b"}]
    assert_no_exception(page)


def test_tags_panel_opens_short_with_300_models(dashboard, page, fake_ollama):
    fake_ollama.reply("GET", "/api/tags", body={"models": [
        {**TAGS["models"][0], "name": f"model-{n:04d}:latest", "digest": f"{n:064x}"} for n in range(300)]})
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/models?lang=en")
    wait_for_app(page)
    page.get_by_text("Show the HTTP: GET /api/tags → 200").click()
    page.get_by_role("tab", name="Response").click()
    page.get_by_text("… and 295 more models").wait_for()
    assert page.get_by_text("model-0299:latest").count() == 0
    assert_no_exception(page)
