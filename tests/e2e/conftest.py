"""Browser fixtures: a real `streamlit run app.py` per test that needs a fresh server, and Debian's
Chromium driven by Playwright (it cannot download its own browser here)."""
import os
import pathlib
import subprocess
import sys
import time

import pytest
import requests
from playwright.sync_api import sync_playwright

from tests.plugins.builtin import free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Dashboard:
    def __init__(self, ollama_url: str, tmp_path: pathlib.Path, extra_env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"streamlit-{self.port}.log"
        env = {**os.environ, "OLLAMA_HOST": ollama_url, **(extra_env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
             "--server.port", str(self.port), "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"streamlit exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}/_stcore/health", timeout=1).text == "ok":
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail(f"streamlit did not become healthy: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


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
