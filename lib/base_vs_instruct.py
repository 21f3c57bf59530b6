"""The lab's base vs instruct lesson: the same prompt to an instruct model and to a base model, with
what ended each answer (`done_reason`) and its token counts.

Both go through `/api/generate`, where each model's template applies: an instruct model's chat
template wraps the prompt in turns (smollm2:135m: `<|im_start|>user ... <|im_end|>` then
`<|im_start|>assistant`) and, fine-tuned on conversations, it closes its turn with the end-of-turn
token: `done_reason: "stop"`. A base model's template is plain completion (the prompt as it is): it
continues the text until `num_predict` (`done_reason: "length"`), unless it happens to predict the
end of a document. Checked on the built-in server: "What is the capital of France?" at temperature 0
gives smollm2:135m "The capital of France is Paris." (16 prompt tokens, 7 out, stop) and
gemma3:270m-base the answer, then the question again, and again (8 prompt tokens, 48 out, length).

Plain Python; lib/ui_lab.py lays it out.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from lib.builtin_server import BASE_MODEL, INSTRUCT_MODEL
from lib.client import Exchange, OllamaClient, OllamaError
from lib.generation import Generation
from lib.i18n import Refusal

PROMPT_EN = "What is the capital of France?"
PROMPT_ES = "¿Cuál es la capital de Francia?"
NUM_PREDICT = 48
OPTIONS = {"temperature": 0}  # the most likely token every time: the lesson reads the same on every run
KINDS = ("instruct", "base")


def default_pair(names: list[str]) -> tuple[str | None, str | None]:
    """(instruct, base) to start with: the built-in server's two models when installed, else the
    first two installed models for the student to set right."""
    instruct = INSTRUCT_MODEL if INSTRUCT_MODEL in names else next(iter(names), None)
    base = BASE_MODEL if BASE_MODEL in names else next((n for n in names if n != instruct), None)
    return instruct, base


@dataclass
class Answer:
    model: str
    kind: str  # "instruct" or "base"
    text: str = ""
    generation: Generation | None = None  # None when the request failed
    error: OllamaError | None = None
    exchange: Exchange | None = None  # the call, for "Show the HTTP"

    @property
    def done_reason(self) -> str | None:
        return self.generation.done_reason if self.generation else None


@dataclass
class Comparison:
    prompt: str
    num_predict: int
    answers: list[Answer]  # instruct first, then base


class LessonRefused(Refusal):
    """A comparison that cannot be sent as set up."""


def check(prompt: str, instruct: str | None, base: str | None) -> None:
    if not (prompt or "").strip():
        raise LessonRefused("lab.lesson.refused.prompt")
    if not instruct or not base:
        raise LessonRefused("lab.lesson.refused.models")
    if instruct == base:
        raise LessonRefused("lab.lesson.refused.same")


def compare(client: OllamaClient, prompt: str, instruct: str, base: str,
            num_predict: int = NUM_PREDICT) -> Comparison:
    """Both answers, one after the other (a CPU runs one model at a time). A failed request is kept
    as that side's error; the other side is still asked. LessonRefused before anything is sent."""
    check(prompt, instruct, base)
    options = {**OPTIONS, "num_predict": int(num_predict)}
    answers = []
    for kind, model in zip(KINDS, (instruct, base)):
        started = time.perf_counter()
        try:
            final = client.generate(model, prompt, stream=False, options=options)
        except OllamaError as error:
            answers.append(Answer(model, kind, error=error, exchange=error.exchange))
            continue
        answers.append(Answer(model, kind, str(final.get("response") or ""),
                              Generation.from_final(final, wall_s=time.perf_counter() - started),
                              exchange=client.last))
    return Comparison(prompt, int(num_predict), answers)
