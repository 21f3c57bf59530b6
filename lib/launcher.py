"""`make run`: open the dashboard, with the built-in server when no Ollama answers.

If a server answers at `OLLAMA_HOST` the dashboard uses it. Otherwise the built-in server
(`python -m lib.builtin_server`) is started in the background, logging to a file, the dashboard is
pointed at it, and it is stopped when the dashboard stops. Its first start installs the bundled
models into its store ($OCC_CACHE_DIR): the progress is shown here.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import time

from lib.client import OllamaClient, OllamaError
from lib.hosts import default_url
from lib.ollama_facts import BUILTIN_HOST, BUILTIN_PORT

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILTIN_LOG = ROOT / ".cache" / "builtin-server.log"


def answers(url: str) -> bool:
    try:
        OllamaClient(url, connect_timeout=1.0, read_timeout=3.0).heartbeat()
        return True
    except OllamaError:
        return False


# Lines of the server's log worth showing on the terminal while it starts: the first start installs
# the bundled models into the store ("installing smollm2:135m: 40%"), which takes a few seconds.
SHOWN = ("installing ", "installed ", "could not install", "cannot ", "removed ")


def start_builtin(port: int) -> subprocess.Popen:
    """Start the built-in server and wait until it answers, echoing its first-start progress."""
    BUILTIN_LOG.parent.mkdir(parents=True, exist_ok=True)
    log = open(BUILTIN_LOG, "ab")
    offset = log.tell()
    process = subprocess.Popen(
        [sys.executable, "-m", "lib.builtin_server", "--host", BUILTIN_HOST, "--port", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://{BUILTIN_HOST}:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        offset = echo_progress(offset)
        if process.poll() is not None:
            echo_progress(offset)
            sys.exit(f"The built-in server exited (code {process.returncode}); see {BUILTIN_LOG}")
        if answers(url):
            echo_progress(offset)
            return process
        time.sleep(0.2)
    process.terminate()
    sys.exit(f"The built-in server did not answer within 120 s; see {BUILTIN_LOG}")


def echo_progress(offset: int) -> int:
    """Print the new progress lines of the server's log from `offset`; return the new offset."""
    try:
        with open(BUILTIN_LOG, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return offset
    complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits for the next look
    for line in complete.decode("utf-8", "replace").splitlines():
        message = line.split(" INFO ", 1)[-1].split(" ERROR ", 1)[-1]
        if message.startswith(SHOWN):
            print(f"  built-in server: {message}", flush=True)
    return offset + len(complete)


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8501, help="dashboard port")
    parser.add_argument("--builtin-port", type=int, default=BUILTIN_PORT)
    args = parser.parse_args(argv)
    # `kill` or a closed terminal: leave through `finally`, so no server is left behind
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: sys.exit(0))

    env = dict(os.environ)
    url = default_url(env)
    builtin_url = f"http://{BUILTIN_HOST}:{args.builtin_port}"
    server = dashboard = None
    try:
        if answers(url):
            print(f"Using the Ollama server at {url}", flush=True)
        else:
            if answers(builtin_url):  # left running by an earlier `make run`, or started by hand
                print(f"No server answers at {url}: using the built-in server at {builtin_url}", flush=True)
            else:
                print(f"No server answers at {url}: starting the built-in server (log: {BUILTIN_LOG})", flush=True)
                server = start_builtin(args.builtin_port)
            env["OLLAMA_HOST"] = builtin_url
        dashboard = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
             "--server.port", str(args.port), "--server.headless", "true"],
            cwd=ROOT, env=env,
        )
        return dashboard.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(dashboard)
        stop(server)


if __name__ == "__main__":
    sys.exit(main())
