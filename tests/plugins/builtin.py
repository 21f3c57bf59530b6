"""The `builtin_server` fixture: `python -m lib.builtin_server` on a free port, for the whole session.

Tests that use it are marked `@pytest.mark.builtin`. The object it yields has `.url`, `.model` (the
Gemma 3 270M base model, what the page tests were written for), `.instruct_model` (smollm2:135m),
`.models` (both) and, for the built-in server's own tests, `.log`, `.store` and `.restart()`.

The server's model store is a directory of this session inside the repository
(`.cache/test-store-<pid>`, git-ignored; OCC_CACHE_DIR), installed at its first start and removed at
the end of the session, so tests never write outside the repository nor see another session's models.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0
STORES = ROOT / ".cache"
TEST_STORE = STORES / f"test-store-{os.getpid()}"  # this session's OCC_CACHE_DIR


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_stores() -> None:
    """Stores left by sessions that died before their cleanup (their pid is gone)."""
    for path in [*STORES.glob("test-store-*"), *STORES.glob("bench-store-*"), *STORES.glob("test-unit-*")]:
        pid = path.name.split("-", 2)[2].split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def store_env(store: pathlib.Path = TEST_STORE) -> dict[str, str]:
    """The environment of a built-in server (or launcher) that uses `store`."""
    return {**os.environ, "OCC_CACHE_DIR": str(store)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class BuiltinServer:
    url: str
    model: str
    log: pathlib.Path
    process: subprocess.Popen | None = None
    extra_args: tuple[str, ...] = ()
    store: pathlib.Path = TEST_STORE
    instruct_model: str = ""
    models: tuple[str, ...] = ()

    def start(self) -> None:
        port = int(self.url.rsplit(":", 1)[1])
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lib.builtin_server", "--host", "127.0.0.1", "--port", str(port),
                 *self.extra_args],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=store_env(self.store))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the built-in server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/", timeout=2).text == "Ollama is running":
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the built-in server did not answer within {START_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_builtin_server(log: pathlib.Path, *extra_args: str, store: pathlib.Path = TEST_STORE) -> BuiltinServer:
    from lib.builtin_server import BASE_MODEL, BUNDLED_MODELS, INSTRUCT_MODEL

    server = BuiltinServer(url=f"http://127.0.0.1:{free_port()}", model=BASE_MODEL, log=log,
                           extra_args=extra_args, store=store, instruct_model=INSTRUCT_MODEL,
                           models=BUNDLED_MODELS)
    server.start()
    return server


def ensure_bundled_models(server: BuiltinServer) -> None:
    """Both bundled models installed (a test that deletes one pulls it back; this repairs a failed one)."""
    names = {m["name"] for m in requests.get(server.url + "/api/tags", timeout=10).json()["models"]}
    for name in server.models:
        if name not in names:
            requests.post(server.url + "/api/pull", json={"model": name, "stream": False}, timeout=120)


@pytest.fixture(scope="session")
def builtin_store():
    """This session's model store (removed at the end of the session)."""
    remove_stale_stores()
    yield TEST_STORE
    shutil.rmtree(TEST_STORE, ignore_errors=True)


@pytest.fixture(scope="session")
def builtin_server(tmp_path_factory, builtin_store):
    server = start_builtin_server(tmp_path_factory.mktemp("builtin") / "server.log", store=builtin_store)
    yield server
    server.stop()


@pytest.fixture
def bundled_models_back(builtin_server):
    """For tests that delete a bundled model: it is installed again afterwards, whatever happened."""
    yield builtin_server
    ensure_bundled_models(builtin_server)
