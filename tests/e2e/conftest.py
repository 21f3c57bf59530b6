"""Browser fixtures: a real `streamlit run app.py` per test that needs a fresh server, and Debian's
Chromium driven by Playwright (it cannot download its own browser here)."""
import pytest
from playwright.sync_api import sync_playwright

from tests.plugins.browser import CHROMIUM, CHROMIUM_FLAGS, Dashboard


@pytest.fixture
def dashboard(tmp_path):
    """Factory: dashboard(ollama_url) starts a fresh Streamlit server; all are stopped at the end."""
    started = []

    def start(ollama_url: str, extra_env: dict | None = None) -> Dashboard:
        started.append(Dashboard(ollama_url, tmp_path, extra_env))
        return started[-1]

    yield start
    for board in started:
        board.stop()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()
