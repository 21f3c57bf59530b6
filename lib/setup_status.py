"""The state of the built-in server's background preparation, shared by `make run`'s launcher (which
writes it) and the dashboard (which reads it to say "preparing" instead of "not answering").

The launcher writes one small JSON file (atomically: a reader never sees half a file) and passes its
path to the dashboard in OCC_SETUP_STATUS. A file whose launcher is gone is stale and read as None,
so a dashboard started by hand, or one left behind, never shows an old build as running.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import time

STATUS_ENV = "OCC_SETUP_STATUS"

INSTALLING = "installing"   # pip install of the server's requirements (compiles llama.cpp) or models
STARTING = "starting"       # `python -m lib.builtin_server` started, not answering yet
READY = "ready"             # the built-in server answers
FAILED = "failed"           # the install or the start failed: `tail` holds the log's last lines
STATES = (INSTALLING, STARTING, READY, FAILED)

TAIL_LINES = 25
NO_SPACE = "No space left on device"


@dataclasses.dataclass(frozen=True)
class SetupStatus:
    state: str
    url: str                   # the built-in server's address the dashboard is pointed at
    log: str = ""              # the install log's path
    step: str = ""             # "server" (llama.cpp), "models" (the SmolLM2 wheel) or "" when starting
    started: float = 0.0       # when the preparation started (time.time())
    pid: int = 0               # the launcher's process
    command: str = ""          # what failed, e.g. "pip install -r requirements-server.txt"
    code: int | None = None    # its exit code
    tail: tuple[str, ...] = ()

    @property
    def preparing(self) -> bool:
        return self.state in (INSTALLING, STARTING)

    @property
    def failed(self) -> bool:
        return self.state == FAILED

    @property
    def no_space(self) -> bool:
        return any(NO_SPACE in line for line in self.tail)

    def elapsed_s(self, now: float | None = None) -> float:
        return max(0.0, (now or time.time()) - self.started) if self.started else 0.0


def write(path: pathlib.Path, status: SetupStatus) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = dataclasses.asdict(status)
    data["tail"] = list(status.tail)
    temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(temporary, path)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def read(path: str | os.PathLike | None = None) -> SetupStatus | None:
    """The preparation's status from `path` (default: $OCC_SETUP_STATUS), or None when there is no
    preparation: no variable, no file, an unreadable file, or a launcher that is gone."""
    path = path or os.environ.get(STATUS_ENV)
    if not path:
        return None
    try:
        data = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        status = SetupStatus(
            state=str(data["state"]), url=str(data["url"]), log=str(data.get("log", "")),
            step=str(data.get("step", "")), started=float(data.get("started", 0.0)),
            pid=int(data.get("pid", 0)), command=str(data.get("command", "")),
            code=None if data.get("code") is None else int(data["code"]),
            tail=tuple(str(line) for line in data.get("tail", ()))[-TAIL_LINES:])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if status.state not in STATES or not _alive(status.pid):
        return None
    return status


def for_url(url: str, path: str | os.PathLike | None = None) -> SetupStatus | None:
    """The status if the dashboard is pointed at the server being prepared (not after the student
    typed another address in the sidebar), else None."""
    status = read(path)
    if status is None or status.url.rstrip("/") != url.rstrip("/"):
        return None
    return status


def log_tail(path: pathlib.Path, lines: int = TAIL_LINES) -> tuple[str, ...]:
    """The last `lines` lines of a log (the end of a big file only)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64_000))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ()
    return tuple(line for line in text.splitlines() if line.strip())[-lines:]
