"""Structured outputs: `format` as nothing, `"json"` (JSON mode) or a JSON Schema.

Ollama constrains the model's tokens with a grammar made from the schema, but the answer still
arrives as text in `content`/`response`: this module checks the schema before anything is sent,
then parses the answer and validates it with `jsonschema`, so a student sees the data, or what
did not match. Pure logic; lib/ui_chat.py draws it. References (`$ref`) are resolved only inside
the schema: nothing is fetched.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from jsonschema import SchemaError, validators
from jsonschema_specifications import REGISTRY as METASCHEMAS
from referencing.exceptions import Unresolvable

from lib.i18n import Refusal

# Ready schemas for the editor, with field names in the student's language (the course is in
# Spanish): ask "Háblame de Perú" with `pais`, and the model fills país, capital and población.
READY = {
    "es": {
        "country": {"type": "object",
                    "properties": {"pais": {"type": "string"}, "capital": {"type": "string"},
                                   "poblacion": {"type": "integer", "minimum": 0}},
                    "required": ["pais", "capital", "poblacion"]},
        "recipe": {"type": "object",
                   "properties": {"plato": {"type": "string"},
                                  "ingredientes": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                                  "minutos": {"type": "integer", "minimum": 1}},
                   "required": ["plato", "ingredientes", "minutos"]},
        "review": {"type": "object",
                   "properties": {"sentimiento": {"type": "string", "enum": ["positivo", "negativo", "neutro"]},
                                  "confianza": {"type": "number", "minimum": 0, "maximum": 1},
                                  "resumen": {"type": "string"}},
                   "required": ["sentimiento", "confianza", "resumen"]},
    },
    "en": {
        "country": {"type": "object",
                    "properties": {"country": {"type": "string"}, "capital": {"type": "string"},
                                   "population": {"type": "integer", "minimum": 0}},
                    "required": ["country", "capital", "population"]},
        "recipe": {"type": "object",
                   "properties": {"dish": {"type": "string"},
                                  "ingredients": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                                  "minutes": {"type": "integer", "minimum": 1}},
                   "required": ["dish", "ingredients", "minutes"]},
        "review": {"type": "object",
                   "properties": {"sentiment": {"type": "string", "enum": ["positive", "negative", "neutral"]},
                                  "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                                  "summary": {"type": "string"}},
                   "required": ["sentiment", "confidence", "summary"]},
    },
}


READY_NAMES = ("country", "recipe", "review")


def ready_text(lang: str, name: str) -> str:
    return json.dumps(READY.get(lang, READY["es"])[name], ensure_ascii=False, indent=2)


class SchemaRefused(Refusal):
    """A schema that cannot be sent: not JSON, not an object, or not a valid JSON Schema."""


@functools.lru_cache(maxsize=64)
def _validator(schema_text: str):
    """The validator of a schema (by its canonical JSON text), checked once: redrawing a chat of
    many structured answers validates each answer, not each schema again."""
    schema = json.loads(schema_text)
    kind = validators.validator_for(schema)
    kind.check_schema(schema)
    # A registry of our own, holding only the JSON Schema metaschemas: without one, jsonschema
    # would still fetch an http(s) `$ref` (its deprecated default), making the dashboard request
    # any address a schema names.
    return kind(schema, registry=METASCHEMAS)


def _canonical(schema: dict) -> str:
    return json.dumps(schema, sort_keys=True, ensure_ascii=False)


def parse_schema(text: str) -> dict:
    """The editor's text as a schema to send, or SchemaRefused saying what is wrong."""
    try:
        schema = json.loads(text)
    except RecursionError:
        raise SchemaRefused("chat.schema.too_deep") from None
    except ValueError as error:
        raise SchemaRefused("chat.schema.not_json", error=str(error)) from None
    if not isinstance(schema, dict):  # Ollama takes "json" or a schema object, nothing else
        raise SchemaRefused("chat.schema.not_object")
    try:
        _validator(_canonical(schema))
    except RecursionError:
        raise SchemaRefused("chat.schema.too_deep") from None
    except SchemaError as error:
        raise SchemaRefused("chat.schema.invalid", path=error.json_path, error=error.message) from None
    return schema


def valid_format(value) -> bool:
    """A `format` a saved or imported turn may carry: "json" or a valid schema object."""
    if value == "json":
        return True
    if not isinstance(value, dict):
        return False
    try:
        _validator(_canonical(value))
    except (SchemaError, RecursionError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Problem:
    path: str  # where in the answer, as a JSON path: `$` (the whole answer), `$.ingredientes[0]`
    message: str  # jsonschema's message (English: the library's own words)


@dataclass(frozen=True)
class Checked:
    """An answer read against its `format`: the value, or why it is not JSON, or what did not match."""

    value: object = None
    not_json: str | None = None  # the parser's message when the answer is not JSON at all
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return self.not_json is None and not self.problems


def check(text: str, format_sent) -> Checked:
    """Parse an answer given `format_sent` ("json" or a schema) and validate it against the schema."""
    try:
        value = json.loads(text)
    except RecursionError:
        return Checked(not_json="nested too deeply")
    except ValueError as error:
        return Checked(not_json=str(error))
    if not isinstance(format_sent, dict):
        return Checked(value)
    try:
        errors = sorted(_validator(_canonical(format_sent)).iter_errors(value), key=lambda e: list(e.absolute_path))
        problems = tuple(Problem(e.json_path, e.message) for e in errors)
    except Unresolvable as error:  # a $ref outside the schema: never fetched
        problems = (Problem("$", f"Unresolvable: {error}"),)
    return Checked(value, problems=problems)


def rows(value) -> list[tuple[str, str]] | None:
    """A JSON object as (field, value) rows for a two-column table, nested values as compact JSON;
    None for anything else (shown as JSON)."""
    if not isinstance(value, dict):
        return None
    return [(str(key), item if isinstance(item, str) else json.dumps(item, ensure_ascii=False))
            for key, item in value.items()]
