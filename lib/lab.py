"""The options and seed lab: experiments (models x conditions x repetitions), runs, and what they
show: how many distinct outputs, grouped; word diffs; where the time went; a lab sheet.

Pure logic; lib/lab_runner.py runs the plan against the server, pages/lab.py lays it out.
"""
from __future__ import annotations

import difflib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field

import pandas as pd

from lib import ollama_facts
from lib.formatting import number
from lib.generation import Generation
from lib.i18n import Refusal
from lib.options import Problem, effective_options, model_parameters
from lib.server_checks import processor

DEFAULT_PROMPT_ES = "Explica por qué el cielo es azul, en una frase"
DEFAULT_PROMPT_EN = "Explain why the sky is blue, in one sentence"
MAX_REPETITIONS = 20
MAX_RUNS = 400  # a whole experiment; past it the plan is refused (a class laptop would take hours)
GREEDY = ollama_facts.GREEDY_TEMPERATURE
# The course's "reproducible" request (seed 123 + temperature 0, section 6.8) mixes two causes; these
# separate them. Seed alone at the default temperature also repeats on the same setup (ollama PR
# #5045); at temperature 0 decoding is greedy and the seed changes nothing (#4660); num_ctx left to
# the server depends on its VRAM and memory (sched.go), so a reproducible request sets it (#586).
READY_MADE = {
    "default": {},  # the course's "not reproducible": no seed, the defaults
    "seed": {"seed": 123},  # (a) seed only, at the default temperature
    "temperature_0": {"temperature": GREEDY},  # (b) temperature 0 only
    "temperature_0_seed_1": {"temperature": GREEDY, "seed": 1},  # (c) two seeds at temperature 0:
    "temperature_0_seed_2": {"temperature": GREEDY, "seed": 2},  # the same text
    "seed_num_ctx": {"seed": 123, "num_ctx": 2048},  # (d) against "seed", where the server picks num_ctx
    "seed_removed_option": {"seed": 123, **ollama_facts.REMOVED_OPTION_EXAMPLE},  # ignored: as "seed"
}
DEFAULT_READY = ("default", "seed", "temperature_0")


@dataclass(frozen=True)
class Condition:
    name: str  # what the student reads: "reproducible", "temperature=0.4, seed=123"...
    options: dict


def ready_made(names) -> list[Condition]:
    return [Condition(name, dict(READY_MADE[name])) for name in names]


def sweep(option: str, values: list, seed: int | None) -> list[Condition]:
    """One condition per value; with a seed, each is reproducible, so only the option changes."""
    conditions = []
    for value in values:
        options = {option: value}
        if seed is not None:
            options["seed"] = seed
        label = f"{option}={value}" + (f", seed={seed}" if seed is not None else "")
        conditions.append(Condition(label, options))
    return conditions


def parse_values(text: str) -> list[float | int]:
    """'0, 0.4, 0.8, 1.2' -> [0, 0.4, 0.8, 1.2]; ValueError on anything else."""
    values = []
    for item in text.replace(";", ",").split(","):
        item = item.strip()
        if item:
            number = float(item)
            values.append(int(number) if number.is_integer() and "." not in item else number)
    if not values:
        raise ValueError(text)
    return values


def parse_custom(text: str) -> tuple[list[Condition], list[Problem]]:
    """One condition per line: `name: {"option": value, ...}` (the name is optional)."""
    conditions, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, brace, rest = line.partition("{")
        name = name.strip().rstrip(":").strip() or f"custom {number}"
        try:
            chosen = json.loads(brace + rest)
        except ValueError:
            chosen = None
        if not brace or not isinstance(chosen, dict):
            problems.append(Problem("", "lab.custom_invalid", {"line": number}))
            continue
        conditions.append(Condition(name, chosen))
    return conditions, problems


@dataclass(frozen=True)
class Planned:
    model: str
    condition: Condition
    repetition: int  # 1-based


class PlanRefused(Refusal):
    """An experiment that cannot run as set up."""


def plan(prompt: str, models: list[str], conditions: list[Condition], repetitions: int) -> list[Planned]:
    """Every run of the experiment, model by model, condition by condition."""
    if not prompt.strip():
        raise PlanRefused("lab.refused.prompt")
    if not models:
        raise PlanRefused("lab.refused.models")
    if not conditions:
        raise PlanRefused("lab.refused.conditions")
    if not 1 <= repetitions <= MAX_REPETITIONS:
        raise PlanRefused("lab.refused.repetitions", most=MAX_REPETITIONS)
    runs = [Planned(m, c, r) for m in models for c in conditions for r in range(1, repetitions + 1)]
    if len(runs) > MAX_RUNS:
        raise PlanRefused("lab.refused.too_many", runs=len(runs), most=MAX_RUNS)
    return runs


@dataclass
class Run:
    model: str
    condition: str
    repetition: int
    options: dict
    cold: bool  # the model was unloaded just before (keep_alive: 0)
    ok: bool = True
    error: str | None = None
    text: str = ""
    load_s: float | None = None
    prompt_eval_s: float | None = None
    eval_s: float | None = None
    total_s: float | None = None
    wall_s: float | None = None  # measured by the dashboard: total plus HTTP and queueing
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    tokens_per_second: float | None = None
    done_reason: str | None = None
    in_flight: int = 1  # requests sent at once with this one (its wave), itself included
    wave: int | None = None  # which group of simultaneous requests it was in
    raw: dict = field(default_factory=dict, repr=False)  # the server's answer, for the JSON export

    @property
    def other_s(self) -> float | None:
        """Wall time the server's durations do not explain: Generation's rule, not a copy of it."""
        return Generation(total_s=self.total_s, wall_s=self.wall_s).other_s


def finished_run(planned: Planned, options: dict, cold: bool, answer: dict, wall_s: float,
                 in_flight: int = 1, wave: int | None = None) -> Run:
    done = Generation.from_final(answer, wall_s=wall_s)
    return Run(planned.model, planned.condition.name, planned.repetition, options, cold,
               text=answer.get("response") or "", load_s=done.load_s,
               prompt_eval_s=done.prompt_eval_s, eval_s=done.eval_s, total_s=done.total_s,
               wall_s=wall_s, prompt_tokens=done.prompt_tokens, output_tokens=done.output_tokens,
               tokens_per_second=done.tokens_per_second, done_reason=done.done_reason,
               in_flight=in_flight, wave=wave, raw={k: v for k, v in answer.items() if k != "context"})


def failed_run(planned: Planned, options: dict, cold: bool, error: str, wall_s: float | None,
               in_flight: int = 1, wave: int | None = None) -> Run:
    return Run(planned.model, planned.condition.name, planned.repetition, options, cold, ok=False,
               error=error, wall_s=wall_s, in_flight=in_flight, wave=wave)


# ------------------------------------------------------------------------------ what it shows
def groups(texts: list[str]) -> list[tuple[str, int]]:
    """Distinct outputs with how many runs gave each, most frequent first (ties: first seen)."""
    return Counter(texts).most_common()


@dataclass(frozen=True)
class Outcome:
    model: str
    condition: str
    runs: int  # finished runs
    failed: int
    distinct: int

    @property
    def identical(self) -> bool:
        return self.runs > 0 and self.distinct == 1


def outcomes(runs: list[Run]) -> list[Outcome]:
    """Per model and condition, in the order they were run."""
    keys = list(dict.fromkeys((r.model, r.condition) for r in runs))
    result = []
    for model, condition in keys:
        mine = [r for r in runs if (r.model, r.condition) == (model, condition)]
        finished = [r.text for r in mine if r.ok]
        result.append(Outcome(model, condition, len(finished), len(mine) - len(finished),
                              len(set(finished))))
    return result


@dataclass(frozen=True)
class Compared:
    """The texts of one model and condition in two kinds of runs (cold/warm, alone/together)."""

    model: str
    condition: str
    first: int  # distinct texts among the first kind's runs
    second: int  # ... and the second kind's
    same: bool  # one text in all of them


def compare_texts(runs: list[Run], kind) -> list[Compared]:
    """Per model and condition with finished runs of both kinds (`kind(run)` True or False): do they
    give the same text? Cold vs warm: `lambda r: r.cold`; alone vs batched: `lambda r: r.in_flight == 1`."""
    result = []
    for model, condition in dict.fromkeys((r.model, r.condition) for r in runs):
        mine = [r for r in runs if r.ok and (r.model, r.condition) == (model, condition)]
        first = {r.text for r in mine if kind(r)}
        second = {r.text for r in mine if not kind(r)}
        if first and second:
            result.append(Compared(model, condition, len(first), len(second), len(first | second) == 1))
    return result


@dataclass(frozen=True)
class Speed:
    """Tokens per second with `in_flight` requests at once: each request's own, and all together."""

    in_flight: int
    requests: int
    per_request: float  # mean of eval_count / eval_duration
    aggregate: float  # all their tokens / the wall time of their waves, model loading left out


def speeds(runs: list[Run]) -> list[Speed]:
    """One row per number of simultaneous requests (1, N...). A wave's time is its longest request's
    wall time (they started together) without the model's loading, which only the first run pays."""
    finished = [r for r in runs if r.ok and r.tokens_per_second and r.wall_s]
    result = []
    for in_flight in sorted({r.in_flight for r in finished}):
        mine = [r for r in finished if r.in_flight == in_flight]
        waves: dict = {}
        for number, r in enumerate(mine):
            waves.setdefault(r.wave if r.wave is not None else -1 - number, []).append(r)
        tokens = sum(r.output_tokens or 0 for r in mine)
        wall = sum(max(r.wall_s - (r.load_s or 0.0) for r in wave) for wave in waves.values())
        result.append(Speed(in_flight, len(mine), sum(r.tokens_per_second for r in mine) / len(mine),
                            tokens / wall if wall else 0.0))
    return result


def truncated(runs: list[Run]) -> bool:
    """Some answer was cut at num_predict (`done_reason: length`): the texts compared are its first tokens."""
    return any(r.ok and r.done_reason == "length" for r in runs)


def word_diff(a: str, b: str) -> list[tuple[str, str]]:
    """(tag, words) pieces: 'same', 'removed' (only in a), 'added' (only in b)."""
    left, right = a.split(), b.split()
    pieces = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=left, b=right, autojunk=False).get_opcodes():
        if tag == "equal":
            pieces.append(("same", " ".join(left[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(("removed", " ".join(left[i1:i2])))
        if j2 > j1:
            pieces.append(("added", " ".join(right[j1:j2])))
    return pieces


COLUMNS = ("model", "condition", "repetition", "cold", "in_flight", "ok", "error", "text", "load_s",
           "prompt_eval_s", "eval_s", "total_s", "wall_s", "other_s", "prompt_tokens",
           "output_tokens", "tokens_per_second", "done_reason", "options")


def table(runs: list[Run]) -> pd.DataFrame:
    """One row per run with every metric (`other_s`: HTTP, JSON, queueing), numbered from 1."""
    rows = [{"run": number, **{column: getattr(run, column) for column in COLUMNS if column != "options"},
             "options": json.dumps(run.options, sort_keys=True)}
            for number, run in enumerate(runs, start=1)]
    return pd.DataFrame(rows, columns=("run", *COLUMNS))


class Results:
    """Everything the result views show, computed once for a set of runs: the page redraws it on
    every rerun, but the runs change only when one is recorded (see lab_runner.Experiment.results)."""

    def __init__(self, prompt: str, runs: list[Run]):
        self.prompt = prompt
        self.runs = runs
        self.outcomes = outcomes(runs)
        self.answers = [groups([r.text for r in runs if (r.model, r.condition) == (o.model, o.condition) and r.ok])
                        for o in self.outcomes]  # distinct outputs of each outcome, most frequent first
        self.table = table(runs)
        self.finished = {number: f"#{number} {run.model} · {run.condition} · {run.repetition}"
                         for number, run in enumerate(runs, start=1) if run.ok}  # run number -> label
        self.cold_and_warm = len({run.cold for run in runs if run.ok}) == 2  # both kinds finished
        self.cold_vs_warm = compare_texts(runs, lambda r: r.cold)
        self.alone_vs_together = compare_texts(runs, lambda r: r.in_flight == 1)
        self.speeds = speeds(runs)
        self.truncated = truncated(runs)
        self._charts = {}

    def chart(self, draw, labels: dict):
        """`draw(table, labels)` (a lib.charts function), drawn once per language."""
        key = (draw, tuple(labels.items()))
        if key not in self._charts:
            self._charts[key] = draw(self.table, labels)
        return self._charts[key]


def export_json(prompt: str, runs: list[Run]) -> str:
    return json.dumps({"format": "ollama-course-companion/lab", "version": 1, "prompt": prompt,
                       "runs": [asdict(run) for run in runs]}, ensure_ascii=False, indent=2)


def loaded(ps: dict, model: str, show: dict) -> dict:
    """What the lab sheet records of a model as it ran: its digest, where it ran (`ollama ps`'s
    PROCESSOR from size and size_vram), the context length the server chose, its PARAMETERs."""
    running = ps.get("models") or []
    entry = next((m for m in running if ollama_facts.same_model(m.get("name") or m.get("model") or "", model)), {})
    return {"digest": entry.get("digest") or show.get("digest"),
            "processor": processor(entry.get("size") or 0, entry.get("size_vram") or 0) if entry else None,
            "context_length": entry.get("context_length"), "parameters": model_parameters(show)}


def _effective(parameters: dict, options: dict) -> str:
    """The options that ran, with where each came from: `temperature=0 (request)`."""
    chosen = effective_options(parameters, options)
    return ", ".join(f"{name}={json.dumps(value, ensure_ascii=False)} ({source})"
                     for name, (value, source) in chosen.items() if value is not None)


def lab_sheet(prompt: str, runs: list[Run], labels: dict, environment: dict | None = None) -> str:
    """A Markdown sheet a student can hand in: the question, the environment (server version, and per
    model its digest, processor, context length and effective options), the conditions, what came out.

    `labels` holds translated texts; `identical`, `distinct` and `failed` are functions of the counts."""
    environment = environment or {}
    models = environment.get("models") or {}
    lines = [f"# {labels['title']}", "", f"**{labels['prompt']}**: {prompt}", "",
             f"- **{labels['version']}**: {environment.get('version') or '?'}"]
    for model in dict.fromkeys(r.model for r in runs):
        seen = models.get(model) or {}
        lines.append(f"- `{model}`: {labels['digest']} `{seen.get('digest') or '?'}` · {labels['processor']} "
                     f"{seen.get('processor') or '?'} · {labels['context_length']} {seen.get('context_length') or '?'}")
    lines.append("")
    lines += [f"| {labels['model']} | {labels['condition']} | {labels['options']} | {labels['result']} |",
              "|---|---|---|---|"]
    options_of = {(r.model, r.condition): json.dumps(r.options, ensure_ascii=False) for r in runs}
    for outcome in outcomes(runs):
        verdict = (labels["identical"](n=outcome.runs) if outcome.identical
                   else labels["distinct"](distinct=outcome.distinct, n=outcome.runs))
        if outcome.failed:
            verdict += " · " + labels["failed"](n=outcome.failed)
        lines.append(f"| `{outcome.model}` | {outcome.condition} | `{options_of[(outcome.model, outcome.condition)]}` "
                     f"| {verdict} |")
    for outcome in outcomes(runs):
        lines += ["", f"## `{outcome.model}` · {outcome.condition}", ""]
        parameters = (models.get(outcome.model) or {}).get("parameters") or {}
        options = json.loads(options_of[(outcome.model, outcome.condition)])
        lines += [f"{labels['effective']}: {_effective(parameters, options)}", ""]
        texts = [r.text for r in runs if (r.model, r.condition) == (outcome.model, outcome.condition) and r.ok]
        for text, count in groups(texts):
            lines += [f"- **{count}×** {text.strip() or '∅'}"]
    finished = [r for r in runs if r.ok and r.tokens_per_second]
    if finished:
        speed = sum(r.tokens_per_second for r in finished) / len(finished)
        lines += ["", f"{labels['speed']}: {number(speed, '.1f', labels.get('lang', 'en'))} tokens/s"]
    return "\n".join(lines) + "\n"
