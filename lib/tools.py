"""Tool calling (Ollama's `tools`): three safe local functions, and the loop that lets a model use them.

Plain Python, no Streamlit. The loop: send the question with the `tools` definitions
(`/api/chat`, not streamed); the model answers with `message.tool_calls`; each call is checked
against its function's JSON Schema and only then run here; its result goes back as a
`{"role": "tool", "content": ..., "tool_name": ...}` message; the model then answers (or calls
again). A call that names an unknown function, or whose arguments do not match the schema, is
answered with an error `tool` message and never run. The rounds are capped: a model that keeps
calling tools is stopped with a clear reason.

What is sent to the model (definitions, results, errors) is English, like the API; what the
student reads about each step is a translation key with values (`Refusal`).
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from jsonschema import Draft202012Validator

from lib.client import Exchange, OllamaClient, OllamaError
from lib.i18n import Refusal

MAX_ROUNDS = 5  # chat calls that may end in tool calls; a model still calling after that is stopped

# Fixed offsets of cities that keep no daylight saving time, so the table is always right.
CITIES = {"Bogota": -5 * 60, "Buenos Aires": -3 * 60, "Lima": -5 * 60, "Mexico City": -6 * 60,
          "Sao Paulo": -3 * 60, "Tokyo": 9 * 60, "Beijing": 8 * 60, "New Delhi": 5 * 60 + 30,
          "Nairobi": 3 * 60, "Reykjavik": 0}
OPERATIONS = {"add": lambda a, b: a + b, "subtract": lambda a, b: a - b,
              "multiply": lambda a, b: a * b, "divide": lambda a, b: a / b}
# unit -> (quantity, factor to the base unit); temperatures are converted by formula
UNITS = {"m": ("length", 1.0), "km": ("length", 1000.0), "mi": ("length", 1609.344),
         "ft": ("length", 0.3048), "kg": ("mass", 1.0), "lb": ("mass", 0.45359237),
         "celsius": ("temperature", None), "fahrenheit": ("temperature", None),
         "kelvin": ("temperature", None)}


class ToolFailure(Exception):
    """A function could not do what was asked (division by zero, km to kg): `message` goes back
    to the model, `refusal` is what the student reads."""

    def __init__(self, message: str, refusal: Refusal):
        super().__init__(message)
        self.message = message
        self.refusal = refusal


def current_time(city: str, now: datetime | None = None) -> dict:
    offset = CITIES[city]
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone(timedelta(minutes=offset)))
    sign, minutes = ("+" if offset >= 0 else "-"), abs(offset)
    return {"city": city, "time": moment.strftime("%H:%M"), "date": moment.strftime("%Y-%m-%d"),
            "utc_offset": f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"}


def _finite(value: float) -> float | int:
    """A result the model can read: finite, and whole numbers without `.0`."""
    if not math.isfinite(value):
        raise ToolFailure("the result is too large", Refusal("today.tools.fail.too_large"))
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _float(value: float) -> float:
    try:
        return float(value)  # JSON integers have no bound: 10**400 is not a float
    except OverflowError:
        raise ToolFailure("a number is too large", Refusal("today.tools.fail.too_large")) from None


def calculate(a: float, operation: str, b: float) -> dict:
    x, y = _float(a), _float(b)
    if operation == "divide" and y == 0:
        raise ToolFailure("division by zero", Refusal("today.tools.fail.zero"))
    return {"a": a, "operation": operation, "b": b, "result": _finite(OPERATIONS[operation](x, y))}


def _to_celsius(value: float, unit: str) -> float:
    return {"celsius": value, "fahrenheit": (value - 32) * 5 / 9, "kelvin": value - 273.15}[unit]


def _from_celsius(value: float, unit: str) -> float:
    return {"celsius": value, "fahrenheit": value * 9 / 5 + 32, "kelvin": value + 273.15}[unit]


def convert_units(value: float, from_unit: str, to_unit: str) -> dict:
    (quantity, factor), (target, target_factor) = UNITS[from_unit], UNITS[to_unit]
    if quantity != target:
        raise ToolFailure(f"cannot convert {quantity} ({from_unit}) to {target} ({to_unit})",
                          Refusal("today.tools.fail.units", source=from_unit, target=to_unit))
    amount = _float(value)
    if quantity == "temperature":
        result = _from_celsius(_to_celsius(amount, from_unit), to_unit)
    else:
        result = amount * factor / target_factor
    return {"value": value, "from_unit": from_unit, "to_unit": to_unit,
            "result": _finite(round(result, 6) if math.isfinite(result) else result)}


def _schema(properties: dict, required: list[str]) -> dict:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict  # a JSON Schema: what the model sees, and what every call is checked against
    function: Callable[..., dict]

    @property
    def definition(self) -> dict:
        """The entry of the `tools` array, as sent."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}


TOOLS = (
    Tool("get_current_time", "Get the current local time and date in a city.",
         _schema({"city": {"type": "string", "enum": list(CITIES),
                           "description": "The city, written exactly as one of the listed names"}},
                 ["city"]),
         current_time),
    Tool("calculate", "Do one arithmetic operation on two numbers.",
         _schema({"a": {"type": "number", "description": "The first number"},
                  "operation": {"type": "string", "enum": list(OPERATIONS)},
                  "b": {"type": "number", "description": "The second number"}},
                 ["a", "operation", "b"]),
         calculate),
    Tool("convert_units", "Convert a length, a mass or a temperature from one unit to another.",
         _schema({"value": {"type": "number", "description": "The amount to convert"},
                  "from_unit": {"type": "string", "enum": list(UNITS)},
                  "to_unit": {"type": "string", "enum": list(UNITS)}},
                 ["value", "from_unit", "to_unit"]),
         convert_units),
)
BY_NAME = {tool.name: tool for tool in TOOLS}


def definitions(tools: tuple[Tool, ...] = TOOLS) -> list[dict]:
    return [tool.definition for tool in tools]


# ------------------------------------------------------------------------------- one call
@dataclass
class CallOutcome:
    """One of the model's tool calls and what was done with it."""

    name: object  # as the model wrote it (not always a string)
    content: str  # the `tool` message's content sent back: the result, or an error for the model
    ran: bool = False  # the function was run (arguments valid)
    refusal: Refusal | None = None  # why it was not run, or why it failed, for the student
    problems: list[str] = field(default_factory=list)  # the schema's complaints, as sent to the model
    arguments_were_text: bool = False  # arguments arrived as a JSON string and were parsed
    call_id: str | None = None  # the call's `id` (today's Ollama names each call), echoed back

    @property
    def message(self) -> dict:
        """The `tool` message that answers this call."""
        message = {"role": "tool", "content": self.content}
        if isinstance(self.name, str) and self.name:
            message["tool_name"] = self.name
        if self.call_id:
            message["tool_call_id"] = self.call_id
        return message


def _error(text: str) -> str:
    return json.dumps({"error": text}, ensure_ascii=False)


def execute(call: object, tools: dict[str, Tool] = BY_NAME) -> CallOutcome:
    """Check one entry of `message.tool_calls` and run it only if it is valid."""
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict):
        return CallOutcome(None, _error("a tool call must be an object with a `function` object"),
                           refusal=Refusal("today.tools.refused.malformed"))
    name, arguments = function.get("name"), function.get("arguments")
    call_id = call["id"] if isinstance(call.get("id"), str) else None
    tool = tools.get(name) if isinstance(name, str) else None
    if tool is None:
        known = ", ".join(tools)
        return CallOutcome(name, _error(f"unknown function {name!r}; the functions are: {known}"),
                           refusal=Refusal("today.tools.refused.unknown", name=str(name), known=known),
                           call_id=call_id)
    outcome = CallOutcome(name, "", call_id=call_id)
    if arguments is None:
        arguments = {}
    if isinstance(arguments, str):  # some models send the object as JSON text: read it, say so
        outcome.arguments_were_text = True
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError):
            outcome.content = _error("the arguments are not valid JSON")
            outcome.refusal = Refusal("today.tools.refused.not_json")
            return outcome
    if not isinstance(arguments, dict):
        outcome.content = _error("the arguments must be a JSON object")
        outcome.refusal = Refusal("today.tools.refused.not_object")
        return outcome
    problems = sorted(error.message for error in Draft202012Validator(tool.parameters).iter_errors(arguments))
    if problems:
        outcome.problems = problems
        outcome.content = _error("invalid arguments: " + "; ".join(problems))
        outcome.refusal = Refusal("today.tools.refused.schema", name=name)
        return outcome
    try:
        result = tool.function(**arguments)
    except ToolFailure as failure:
        outcome.content, outcome.refusal = _error(failure.message), failure.refusal
        return outcome
    outcome.ran, outcome.content = True, json.dumps(result, ensure_ascii=False)
    return outcome


# ------------------------------------------------------------------------------- the loop
@dataclass
class Round:
    """One `/api/chat` call and the tool calls it brought."""

    exchange: Exchange | None
    message: dict  # the assistant's message as received
    calls: list[CallOutcome] = field(default_factory=list)

    @property
    def tool_calls(self) -> list:
        calls = self.message.get("tool_calls")
        return calls if isinstance(calls, list) else []


@dataclass
class ToolRun:
    """A question answered with tools: every round kept, whatever ends it."""

    model: str
    question: str
    tools: list[dict]  # the `tools` array as sent
    rounds: list[Round] = field(default_factory=list)
    answer: str | None = None  # the final answer (no more tool calls)
    error: OllamaError | None = None
    capped: bool = False  # the model was still calling tools after MAX_ROUNDS

    @property
    def ended(self) -> bool:
        """False while the loop runs, and for good if it was interrupted (a click, a page change)."""
        return self.answer is not None or self.error is not None or self.capped


def _assistant_message(message: dict) -> dict:
    """The model's message as it goes back into the conversation (its reasoning left out)."""
    kept = {"role": "assistant", "content": message.get("content") if isinstance(message.get("content"), str) else ""}
    if isinstance(message.get("tool_calls"), list):
        kept["tool_calls"] = message["tool_calls"]
    return kept


def ask(client: OllamaClient, run: ToolRun, max_rounds: int = MAX_ROUNDS,
        on_round: Callable[[Round], None] | None = None, tools: dict[str, Tool] = BY_NAME) -> ToolRun:
    """Run the loop for `run` (made by the caller and kept by it, so an interruption keeps the
    rounds done). `on_round` is told of each round as it ends."""
    messages: list[dict] = [{"role": "user", "content": run.question}]
    for _ in range(max_rounds):
        try:
            reply = client.chat(run.model, messages, stream=False, tools=run.tools)
        except OllamaError as error:
            run.error = error
            return run
        message = reply.get("message") if isinstance(reply.get("message"), dict) else {}
        current = Round(client.last, message)
        run.rounds.append(current)
        if not current.tool_calls:
            content = message.get("content")
            run.answer = content if isinstance(content, str) else ""
            return run
        messages.append(_assistant_message(message))
        for call in current.tool_calls:
            outcome = execute(call, tools)
            current.calls.append(outcome)
            messages.append(outcome.message)
        if on_round is not None:
            on_round(current)
    run.capped = True
    return run
