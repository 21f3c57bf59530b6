"""The lab's plan runner: an experiment and its runs, run one by one against the server.

Plain Python (no Streamlit): pages/lab.py keeps the Experiment in session state, calls `run` and
draws the progress it reports. Every run is recorded as soon as it ends, so an error, Cancel or a
visit to another page loses nothing, and calling `run` again carries on where it stopped.

Streamlit 1.67 may start the next script run before the previous one has stopped, so two calls
of `run` can overlap: the newest call owns the plan, and an older one, when its request returns,
records nothing and returns. The newest call does that step itself; no run is recorded twice.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lib.client import CannotConnect, ModelNotFound, OllamaClient, OllamaError, RequestTimeout
from lib.lab import Planned, Results, Run, failed_run, finished_run

STOPPING = (CannotConnect, RequestTimeout)  # the server went away: the next runs would fail too


@dataclass(eq=False)
class Experiment:
    prompt: str
    num_predict: int
    alternate: bool  # unload the model before every other repetition (cold and warm runs)
    plan: list[Planned]
    runs: list[Run] = field(default_factory=list)
    error: OllamaError | None = None  # what stopped the experiment
    cancelled: bool = False
    gone: set[str] = field(default_factory=set)  # models found missing: their other runs are skipped
    _owner: object = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _results: Results | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return not self.cancelled and self.error is None and len(self.runs) < len(self.plan)

    def cancel(self) -> None:
        """Stop after the run in progress, which is not recorded; the runs so far are kept."""
        with self._lock:
            self.cancelled = True

    def run(self, client: OllamaClient, skipped: str,
            on_step: Callable[[int, Planned], None] | None = None) -> bool:
        """Run what is left of the plan; `on_step(index, step)` before each request, `skipped` the
        error text of a missing model's remaining runs. True when this call ended the experiment
        (all done, or stopped by `error`); False when it was cancelled or a newer call took over."""
        owner = object()
        with self._lock:
            self._owner = owner
        while self.running:
            index = len(self.runs)
            step = self.plan[index]
            if on_step:
                on_step(index, step)
            result, error = self._attempt(client, step, skipped)
            with self._lock:
                if self._owner is not owner or self.cancelled:
                    return False
                self.runs.append(result)
                if isinstance(error, ModelNotFound):
                    self.gone.add(step.model)
                if isinstance(error, STOPPING):
                    self.error = error
        return True

    def _attempt(self, client: OllamaClient, step: Planned, skipped: str) -> tuple[Run, OllamaError | None]:
        chosen = {**step.condition.options, "num_predict": self.num_predict}
        cold = self.alternate and step.repetition % 2 == 1
        if step.model in self.gone:
            return failed_run(step, chosen, cold, skipped, None), None
        started = None
        try:
            if cold:
                client.unload(step.model)
            started = time.perf_counter()
            answer = client.generate(step.model, self.prompt, stream=False, options=chosen)
            return finished_run(step, chosen, cold, answer, time.perf_counter() - started), None
        except OllamaError as error:
            wall_s = time.perf_counter() - started if started is not None else None
            return failed_run(step, chosen, cold, error.message, wall_s), error

    def results(self) -> Results:
        """What the runs show, computed once per number of runs: reruns of the page reuse it."""
        count = len(self.runs)
        if self._results is None or len(self._results.runs) != count:
            self._results = Results(self.prompt, self.runs[:count])
        return self._results
