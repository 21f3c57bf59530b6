"""Following `/api/pull` like the CLI does: one bar per layer, overall percent, speed, time left.

`PullProgress.update` takes each status line of the stream; everything else is derived.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

SPEED_WINDOW_S = 5.0  # speed is measured over the last seconds, like the CLI's


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
