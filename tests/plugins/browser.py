"""Browser tests' pieces: a real `streamlit run app.py` (Dashboard), Debian's Chromium and its flags, and
what tests check on any page: the script run has finished, and no exception is shown."""
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest
import requests

from tests.plugins.builtin import free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Dashboard:
    """`streamlit run app.py` on a free port. Its saved work (COMPANION_DATA_DIR) goes to a folder
    of its own inside the repository (.cache/ is ignored by git), removed when it stops."""

    def __init__(self, ollama_url: str, tmp_path: pathlib.Path, extra_env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"streamlit-{self.port}.log"
        self.data_dir = ROOT / ".cache" / f"test-data-dashboard-{self.port}"
        env = {**os.environ, "OLLAMA_HOST": ollama_url, "COMPANION_DATA_DIR": str(self.data_dir),
               **(extra_env or {})}
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
        shutil.rmtree(self.data_dir, ignore_errors=True)


def wait_for_app(page, timeout: float = 30_000) -> None:
    """Streamlit has finished running the script, and an h1 is shown. The app's own script state,
    as Streamlit's e2e tests read it: the 'running' indicator shows only after a delay, and an
    expander opened while the first run still draws the page is closed again by the browser."""
    page.wait_for_selector("h1", timeout=timeout)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)


def assert_no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, \
        page.locator('[data-testid="stException"]').first.inner_text()
