"""The `builtin_server` fixture: `python -m lib.builtin_server` on a free port, for the whole session.

Tests that use it are marked `@pytest.mark.builtin`. The object it yields has `.url` and `.model`
(and, for the built-in server's own tests, `.log` and `.restart()`).
"""
from __future__ import annotations

import dataclasses
import pathlib
import socket
import subprocess
import sys
import time

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0


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

    def start(self) -> None:
        port = int(self.url.rsplit(":", 1)[1])
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lib.builtin_server", "--host", "127.0.0.1", "--port", str(port),
                 *self.extra_args],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
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


def start_builtin_server(log: pathlib.Path, *extra_args: str) -> BuiltinServer:
    from lib.builtin_server import MODEL_NAME

    server = BuiltinServer(url=f"http://127.0.0.1:{free_port()}", model=MODEL_NAME, log=log,
                           extra_args=extra_args)
    server.start()
    return server


@pytest.fixture(scope="session")
def builtin_server(tmp_path_factory):
    server = start_builtin_server(tmp_path_factory.mktemp("builtin") / "server.log")
    yield server
    server.stop()
