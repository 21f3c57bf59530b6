"""lib/structured.py: schemas checked before sending, answers parsed and validated against them."""
import json

import pytest

from lib import structured

COUNTRY = structured.READY["es"]["country"]


@pytest.mark.parametrize("lang", ["es", "en"])
@pytest.mark.parametrize("name", structured.READY_NAMES)
def test_the_ready_schemas_are_valid_and_in_the_students_language(lang, name):
    schema = structured.parse_schema(structured.ready_text(lang, name))
    assert schema == structured.READY[lang][name] and schema["required"] == list(schema["properties"])
    assert ("pais" in schema["properties"]) == (lang == "es" and name == "country")


@pytest.mark.parametrize("text, key", [
    ('{"type": "object",', "chat.schema.not_json"),
    ("", "chat.schema.not_json"),
    ('["pais", "capital"]', "chat.schema.not_object"),
    ('"json"', "chat.schema.not_object"),
    ('{"type": "objeto"}', "chat.schema.invalid"),
    ('{"type": "object", "properties": {"poblacion": {"type": "integer", "minimum": "cero"}}}', "chat.schema.invalid"),
    ('{"type": "object", "required": "pais"}', "chat.schema.invalid"),
    ("[" * 100_000 + "]" * 100_000, "chat.schema.too_deep"),
])
def test_a_schema_that_cannot_be_sent_is_refused_saying_why(text, key):
    with pytest.raises(structured.SchemaRefused) as refused:
        structured.parse_schema(text)
    assert refused.value.key == key


def test_an_invalid_schema_says_where_and_what():
    with pytest.raises(structured.SchemaRefused) as refused:
        structured.parse_schema('{"type": "object", "properties": {"poblacion": {"type": "entero"}}}')
    assert refused.value.values == {"path": "$.properties.poblacion.type",
                                    "error": "'entero' is not valid under any of the given schemas"}


def test_a_matching_answer_is_its_data():
    checked = structured.check('{"pais": "Perú", "capital": "Lima", "poblacion": 34000000}', COUNTRY)
    assert checked.ok and checked.value == {"pais": "Perú", "capital": "Lima", "poblacion": 34000000}
    assert structured.rows(checked.value) == [("pais", "Perú"), ("capital", "Lima"), ("poblacion", "34000000")]


def test_what_does_not_match_is_listed_with_its_path():
    checked = structured.check('{"pais": "Perú", "poblacion": "34 millones", "extra": [1]}', COUNTRY)
    assert checked.not_json is None and not checked.ok and checked.value["pais"] == "Perú"
    assert [(p.path, p.message) for p in checked.problems] == [
        ("$", "'capital' is a required property"),
        ("$.poblacion", "'34 millones' is not of type 'integer'")]
    recipe = structured.check('{"plato": "ceviche", "ingredientes": [], "minutos": 0}', structured.READY["es"]["recipe"])
    assert [p.path for p in recipe.problems] == ["$.ingredientes", "$.minutos"]


def test_an_answer_that_is_not_json_is_said():
    checked = structured.check("La capital de Perú es Lima.", COUNTRY)
    assert checked.not_json.startswith("Expecting value: line 1 column 1") and checked.value is None
    assert structured.check('{"a": 1', "json").not_json.startswith("Expecting ',' delimiter")


def test_json_mode_takes_any_json():
    assert structured.check("[1, 2, 3]", "json") == structured.Checked([1, 2, 3])
    assert structured.rows([1, 2, 3]) is None  # not an object: shown as JSON
    assert structured.rows({"a": {"b": [1, "ñ"]}, "c": None, "d": True}) == [("a", '{"b": [1, "ñ"]}'), ("c", "null"),
                                                                              ("d", "true")]


def test_a_reference_outside_the_schema_is_never_fetched(recorder):
    schema = {"type": "object", "properties": {"pais": {"$ref": f"{recorder.url}/pais.json"}}}
    assert structured.parse_schema(json.dumps(schema)) == schema
    checked = structured.check('{"pais": "Perú"}', schema)
    assert [p.path for p in checked.problems] == ["$"] and "Unresolvable" in checked.problems[0].message
    assert recorder.requests == []


def test_formats_a_saved_turn_may_carry():
    assert structured.valid_format("json") and structured.valid_format(COUNTRY)
    assert not any(structured.valid_format(v) for v in ("xml", {"type": 3}, ["json"], None, 1))
