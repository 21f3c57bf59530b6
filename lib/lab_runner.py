"""The lab's plan runner: an experiment and its runs, run one by one against the server, or, in
concurrent mode, each condition's first repetition alone and the others all at once (threads).

Plain Python (no Streamlit): pages/lab.py keeps the Experiment in session state, calls `run` and
draws the progress it reports. Every run is recorded as soon as it ends, so an error, Cancel or a
visit to another page loses nothing, and calling `run` again carries on where it stopped.

Streamlit 1.67 may start the next script run before the previous one has stopped, so two calls
of `run` can overlap: the newest call owns the plan, and an older one, when its request returns,
records nothing and returns. The newest call does that step itself; no run is recorded twice.

Concurrent requests each get a client of their own: a requests.Session is not documented as
thread-safe, and its pool keeps 10 connections per host.

The environment (server version; per model its digest, processor, context length and PARAMETERs)
is asked once per experiment and model, after the model's first finished run, for the lab sheet.

`as_dict` / `from_dict`: what lib/persistence.py keeps, so a reload brings the experiment back (and
one cut short by the reload carries on where it stopped).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields

from lib.client import CannotConnect, ModelNotFound, OllamaClient, OllamaError, RequestTimeout
from lib.lab import Condition, Planned, Results, Run, failed_run, finished_run, loaded

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
    # Repetitions 2..N of a condition sent at once, after the 1st alone: batched on a server with
    # parallel slots, which can change a seeded answer (ollama #4990; PR #10064: "prompt caching and
    # parallelism" are the sources of non-determinism).
    concurrent: bool = False
    environment: dict = field(default_factory=dict)  # {"version": ..., "models": {model: lab.loaded(...)}}
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
            on_step: Callable[[int, Planned], None] | None = None,
            on_record: Callable[[Experiment], None] | None = None) -> bool:
        """Run what is left of the plan; `on_step(index, step)` before each request, `on_record(self)`
        after each run is recorded (to save it), `skipped` the error text of a missing model's
        remaining runs. True when this call ended the experiment (all done, or stopped by `error`);
        False when it was cancelled or a newer call took over."""
        owner = object()
        with self._lock:
            self._owner = owner
        while self.running:
            index = len(self.runs)
            wave = self._wave(index)
            if on_step:
                on_step(index, wave[0])
            attempts = self._attempt_wave(client, wave, index, skipped)
            with self._lock:
                if self._owner is not owner or self.cancelled:
                    return False
                for step, (result, error) in zip(wave, attempts):
                    self.runs.append(result)
                    if isinstance(error, ModelNotFound):
                        self.gone.add(step.model)
                    if isinstance(error, STOPPING):
                        self.error = error
            self._note_environment(client, [result for result, _ in attempts])
            if on_record:
                on_record(self)
        return True

    def _wave(self, index: int) -> list[Planned]:
        """The steps sent together from `index`: one, or in concurrent mode a condition's repetitions
        after its first (which runs alone, to compare against)."""
        first = self.plan[index]
        if not self.concurrent or first.repetition == 1:
            return [first]
        wave = [first]
        for step in self.plan[index + 1:]:
            if (step.model, step.condition) != (first.model, first.condition):
                break
            wave.append(step)
        return wave

    def _attempt_wave(self, client: OllamaClient, wave: list[Planned], index: int,
                      skipped: str) -> list[tuple[Run, OllamaError | None]]:
        if len(wave) == 1:
            return [self._attempt(client, wave[0], skipped, 1, index)]
        with ThreadPoolExecutor(len(wave)) as pool:
            futures = [pool.submit(self._attempt_alone, client, step, skipped, len(wave), index) for step in wave]
            return [future.result() for future in futures]

    def _attempt_alone(self, client: OllamaClient, step: Planned, skipped: str, in_flight: int,
                       wave: int) -> tuple[Run, OllamaError | None]:
        """One of several simultaneous requests, on a client (and connection) of its own."""
        own = OllamaClient(client.base_url, client.connect_timeout, client.read_timeout) \
            if isinstance(client, OllamaClient) else client
        try:
            return self._attempt(own, step, skipped, in_flight, wave)
        finally:
            if own is not client:
                own.session.close()

    def _attempt(self, client: OllamaClient, step: Planned, skipped: str, in_flight: int = 1,
                 wave: int | None = None) -> tuple[Run, OllamaError | None]:
        chosen = {**step.condition.options, "num_predict": self.num_predict}
        cold = self.alternate and not self.concurrent and step.repetition % 2 == 1
        if step.model in self.gone:
            return failed_run(step, chosen, cold, skipped, None, in_flight, wave), None
        started = None
        try:
            if cold:
                client.unload(step.model)
            started = time.perf_counter()
            answer = client.generate(step.model, self.prompt, stream=False, options=chosen)
            return finished_run(step, chosen, cold, answer, time.perf_counter() - started, in_flight, wave), None
        except OllamaError as error:
            wall_s = time.perf_counter() - started if started is not None else None
            return failed_run(step, chosen, cold, error.message, wall_s, in_flight, wave), error

    def _note_environment(self, client: OllamaClient, recorded: list[Run]) -> None:
        """The server's version once, and each model's environment after its first finished run
        (while it is still loaded). A failure leaves what was not learnt unknown ("?" on the sheet)."""
        models = self.environment.setdefault("models", {})
        new = [run.model for run in recorded if run.ok and run.model not in models]
        if "version" not in self.environment:
            try:
                self.environment["version"] = client.version().get("version")
            except OllamaError:
                self.environment["version"] = None
        for model in dict.fromkeys(new):
            try:
                models[model] = loaded(client.ps(), model, client.show(model))
            except OllamaError:
                models[model] = {}

    def results(self) -> Results:
        """What the runs show, computed once per number of runs: reruns of the page reuse it."""
        count = len(self.runs)
        if self._results is None or len(self._results.runs) != count:
            self._results = Results(self.prompt, self.runs[:count])
        return self._results

    def as_dict(self) -> dict:
        with self._lock:
            runs, error = list(self.runs), self.error
        return {"prompt": self.prompt, "num_predict": self.num_predict, "alternate": self.alternate,
                "plan": [{"model": p.model, "condition": p.condition.name, "options": p.condition.options,
                          "repetition": p.repetition} for p in self.plan],
                "runs": [asdict(run) for run in runs], "error": error.message if error else None,
                "cancelled": self.cancelled, "gone": sorted(self.gone), "concurrent": self.concurrent,
                "environment": self.environment}

    @classmethod
    def from_dict(cls, value: dict) -> Experiment:
        """`as_dict` output back; ValueError when it is not (a damaged file). A stopping error
        comes back as its message."""
        try:
            plan = [Planned(str(p["model"]), Condition(str(p["condition"]), dict(p["options"])), int(p["repetition"]))
                    for p in value["plan"]]
            names = {f.name for f in fields(Run)}
            runs = [Run(**{k: v for k, v in run.items() if k in names}) for run in value["runs"]]
            error = value.get("error")
            return cls(str(value["prompt"]), int(value["num_predict"]), bool(value["alternate"]), plan, runs,
                       error=OllamaError(error) if isinstance(error, str) else None,
                       cancelled=bool(value.get("cancelled")), gone=set(value.get("gone") or ()),
                       concurrent=bool(value.get("concurrent")), environment=dict(value.get("environment") or {}))
        except (KeyError, TypeError, ValueError, AttributeError) as damaged:
            raise ValueError(f"not a saved experiment: {damaged}") from None
