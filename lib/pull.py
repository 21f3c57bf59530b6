"""Following `/api/pull` like the CLI does: one bar per layer, overall percent, speed, time left.

`PullProgress.update` takes each status line of the stream; everything else is derived.
`PullFollower` runs one pull to its end and hands out the progress to draw; pages/models.py draws.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator

from lib import models
from lib.client import Exchange, OllamaError

SPEED_WINDOW_S = 5.0  # speed is measured over the last seconds, like the CLI's
REDRAW_S = 0.25  # progress is handed out at most this often: Ollama sends a line every ~60 ms


@dataclass
class Layer:
    digest: str
    total: int
    completed: int = 0

    @property
    def short(self) -> str:
        return self.digest.removeprefix("sha256:")[:12]

    @property
    def fraction(self) -> float:
        return min(1.0, self.completed / self.total) if self.total else 0.0


@dataclass
class PullProgress:
    clock: callable = time.monotonic
    status: str = ""
    layers: dict[str, Layer] = field(default_factory=dict)
    statuses: list[str] = field(default_factory=list)  # every distinct status, in order
    _samples: deque = field(default_factory=lambda: deque(maxlen=200))

    def update(self, chunk: dict) -> None:
        status = str(chunk.get("status") or "")
        if status and (not self.statuses or self.statuses[-1] != status):
            self.statuses.append(status)
        self.status = status or self.status
        digest = chunk.get("digest")
        if digest and isinstance(chunk.get("total"), int):
            layer = self.layers.setdefault(digest, Layer(digest, chunk["total"]))
            layer.total = chunk["total"]
            # `completed` is absent while 0; it never goes back
            layer.completed = max(layer.completed, int(chunk.get("completed") or 0))
            self._samples.append((self.clock(), self.completed))

    @property
    def total(self) -> int:
        return sum(layer.total for layer in self.layers.values())

    @property
    def completed(self) -> int:
        return sum(layer.completed for layer in self.layers.values())

    @property
    def fraction(self) -> float:
        if self.done:
            return 1.0
        return self.completed / self.total if self.total else 0.0

    @property
    def done(self) -> bool:
        return self.status == "success"

    @property
    def speed(self) -> float | None:
        """Bytes per second over the last SPEED_WINDOW_S seconds."""
        if len(self._samples) < 2:
            return None
        now, latest = self._samples[-1]
        start_time, start_bytes = next(((t, b) for t, b in self._samples if now - t <= SPEED_WINDOW_S),
                                       self._samples[0])
        elapsed = now - start_time
        return (latest - start_bytes) / elapsed if elapsed > 0 else None

    @property
    def seconds_left(self) -> float | None:
        speed = self.speed
        if not speed or self.done:
            return None
        return (self.total - self.completed) / speed


class PullFollower:
    """One `/api/pull`, followed to its end: iterate it for the progress to draw (at most every
    `every_s` seconds, and once more at the end), then read `finished`, `succeeded`, `error` and
    `exchange`. Server errors, error lines and read-only mode end it with `error` set.

    `cancel()` closes the stream at once, also from another thread: Streamlit 1.67 runs a Cancel
    click's callback while the old run may still wait for the server's next line. As a context
    manager it closes the stream however the iteration ends (a rerun interrupts the drawing)."""

    def __init__(self, client, name: str, every_s: float = REDRAW_S, clock=time.monotonic,
                 environ=None):
        self.name = name
        self.progress = PullProgress(clock=clock)
        self.error: Exception | None = None
        self.exchange: Exchange | None = None
        self.finished = False  # the stream ended or failed; False while it runs, or once cancelled
        self.cancelled = False
        self._client, self._every_s, self._clock, self._environ = client, every_s, clock, environ
        self._stream = None

    @property
    def succeeded(self) -> bool:
        return self.finished and self.error is None and self.progress.done

    def __iter__(self) -> Iterator[PullProgress]:
        try:
            models.ensure_writable(self._environ)
            self._stream = self._client.pull(self.name)
            self.exchange = self._stream.exchange
            if self.cancelled:  # cancelled while the request was being sent
                return
            shown, unshown = None, False
            for chunk in self._stream:
                self.progress.update(chunk)
                unshown = True
                if shown is None or self._clock() - shown >= self._every_s:
                    yield self.progress
                    shown, unshown = self._clock(), False  # counted from the end of the drawing
            if self._stream.stopped:  # cancelled: the stream ended early, and on purpose
                return
            if unshown:
                yield self.progress  # the last state is always drawn
            self.finished = True
        except (OllamaError, models.ReadOnlyMode) as error:
            self.error, self.finished = error, True
        finally:
            self.close()

    def cancel(self) -> None:
        self.cancelled = True
        self.close()

    def close(self) -> None:
        """The server sees the connection close and stops sending; what it wrote stays on disk."""
        if self._stream is not None:
            self._stream.close()

    def __enter__(self) -> PullFollower:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
