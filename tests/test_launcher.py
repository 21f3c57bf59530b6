"""`make run`'s launcher: the built-in server when no Ollama answers, none when one does, and
nothing left running after the dashboard stops."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.plugins.apptest import ROOT
from tests.plugins.builtin import STORES, free_port, store_env


def wait_until(check, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def launch(ollama_url: str, tmp_path, store):
    dashboard_port, builtin_port = free_port(), free_port()
    log = open(tmp_path / "launcher.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "lib.launcher", "--port", str(dashboard_port),
         "--builtin-port", str(builtin_port)],
        cwd=ROOT, env={**store_env(store), "OLLAMA_HOST": ollama_url}, stdout=log, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{dashboard_port}", f"http://127.0.0.1:{builtin_port}"


@pytest.fixture
def fresh_store():
    store = STORES / f"test-store-{os.getpid()}-launcher"
    shutil.rmtree(store, ignore_errors=True)
    yield store
    shutil.rmtree(store, ignore_errors=True)


@pytest.mark.builtin
def test_no_ollama_starts_the_builtin_server_and_stops_it(closed_port, tmp_path, fresh_store):
    process, dashboard, builtin = launch(closed_port, tmp_path, fresh_store)
    try:
        assert wait_until(lambda: answers(f"{dashboard}/_stcore/health")), (tmp_path / "launcher.log").read_text()
        assert "builtin" in requests.get(f"{builtin}/api/version", timeout=5).json()
        names = {m["name"] for m in requests.get(f"{builtin}/api/tags", timeout=5).json()["models"]}
        assert names == {"smollm2:135m", "gemma3:270m-base"}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert not answers(f"{dashboard}/_stcore/health") and not answers(builtin)
    # the first start's progress was on the launcher's terminal
    shown = (tmp_path / "launcher.log").read_text()
    assert "built-in server: installing smollm2:135m: 50%" in shown and "built-in server: installed gemma3:270m-base" in shown


def test_a_running_ollama_is_used_and_no_builtin_started(fake_ollama, tmp_path, fresh_store):
    process, dashboard, builtin = launch(fake_ollama.url, tmp_path, fresh_store)
    try:
        assert wait_until(lambda: answers(f"{dashboard}/_stcore/health"), timeout=60)
        assert not answers(builtin)
        assert "Using the Ollama server at" in (tmp_path / "launcher.log").read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert not answers(f"{dashboard}/_stcore/health")
