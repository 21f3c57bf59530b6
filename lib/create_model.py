"""Creating a model (`ollama create`) from an installed one: the Modelfile it corresponds to, the
`/api/create` request in its JSON form, the checks made before anything is sent, and the creation
followed to its end (its status lines stream like a pull's, ending in `success`).

Plain Python; lib/ui_models.py lays the form out.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterator

from lib import library, models, options
from lib.client import Exchange, OllamaError
from lib.i18n import Refusal

EXAMPLE_NAME = "profe"  # the course's example: a patient teacher FROM the instruct model
EXAMPLE_TEMPERATURE = 0.2


@dataclass(frozen=True)
class NewModel:
    name: str
    source: str  # FROM: an installed model
    system: str = ""  # SYSTEM: empty keeps the source's
    parameters: dict = field(default_factory=dict)  # PARAMETER lines, typed as request options

    def arguments(self) -> dict:
        """The keyword arguments of `OllamaClient.create`."""
        return {"model": self.name, "from_": self.source, "system": self.system or None,
                "parameters": dict(self.parameters) or None}


def request_body(new: NewModel) -> dict:
    """The JSON `OllamaClient.create` sends for `new` (what the form shows before sending)."""
    body = {"model": new.name, "from": new.source}
    if new.system:
        body["system"] = new.system
    if new.parameters:
        body["parameters"] = dict(new.parameters)
    body["stream"] = True
    return body


def _argument(value) -> str:
    """A PARAMETER value as a Modelfile writes it: numbers bare, strings quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def modelfile(new: NewModel) -> str:
    """The Modelfile that `ollama create <name> -f Modelfile` would turn into the same model."""
    lines = [f"FROM {new.source}"]
    if new.system:
        lines.append(f'SYSTEM """{new.system}"""')
    for name, value in new.parameters.items():
        for item in value if isinstance(value, list) else [value]:  # stop: one line per sequence
            lines.append(f"PARAMETER {name} {_argument(item)}")
    return "\n".join(lines) + "\n"


def typed_parameters(chosen: dict) -> tuple[dict, list[options.Problem]]:
    """The parameters as Ollama keeps them (an int option given 2048.0 is 2048), or the problems
    that make Ollama refuse them: unknown, removed (ignored by Ollama, so not worth a line) or of
    the wrong type."""
    problems = options.check(chosen)
    if problems:
        return {}, problems
    return {name: options.BY_NAME[name].convert(value) for name, value in chosen.items()
            if value is not None}, []


def check(name: str, source: str, system: str, chosen: dict) -> tuple[NewModel | None, list[Refusal]]:
    """The model to create, or None and every reason it cannot be sent (each a translated key)."""
    refusals: list[Refusal] = []
    try:
        name = models.check_name(name)
    except models.NameRefused as refused:
        refusals.append(Refusal(refused.key, name=refused.name))
    if not (source or "").strip():
        refusals.append(Refusal("models.create.no_source"))
    parameters, problems = typed_parameters(chosen)
    refusals += [Refusal(problem.key, **problem.values) for problem in problems]
    if refusals:
        return None, refusals
    return NewModel(name, source.strip(), (system or "").strip(), parameters), []


def replaces(name: str, installed_names) -> bool:
    """Is `name` taken? Ollama's create then replaces that model (no question asked)."""
    return library.is_installed(name, library.installed_set(installed_names))


class Creation:
    """One `/api/create`, followed to its end: iterate it for the status lines so far (after each
    line), then read `finished`, `succeeded`, `error` and `exchange`. Server errors, error lines
    and read-only mode end it with `error` set. The stream is closed however the iteration ends
    (a rerun that interrupts the drawing closes it)."""

    def __init__(self, client, new: NewModel, environ=None):
        self.model = new
        self.statuses: list[str] = []
        self.error: Exception | None = None
        self.exchange: Exchange | None = None
        self.finished = False
        self._client, self._environ = client, environ

    @property
    def succeeded(self) -> bool:
        return self.finished and self.error is None and self.statuses[-1:] == ["success"]

    def __iter__(self) -> Iterator[list[str]]:
        stream = None
        try:
            models.ensure_writable(self._environ)
            stream = self._client.create(**self.model.arguments())
            self.exchange = stream.exchange
            for chunk in stream:
                status = str(chunk.get("status") or "")
                if status:
                    self.statuses.append(status)
                    yield self.statuses
            self.finished = True
        except (OllamaError, models.ReadOnlyMode) as error:
            self.error, self.finished = error, True
            self.exchange = getattr(error, "exchange", None) or self.exchange
        finally:
            if stream is not None:
                stream.close()
