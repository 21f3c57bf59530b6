"""lib/options: the model's PARAMETERs from /api/show, the effective options, and the option checks."""
from __future__ import annotations

import pytest

from lib import ollama_facts, options

# /api/show "parameters" as Ollama writes it: `%-30s %#v` per line, a list one line per item
QWEN_PARAMETERS = (
    'repeat_penalty                 1.05\n'
    'stop                           "<|im_start|>"\n'
    'stop                           "<|im_end|>"\n'
    'temperature                    0.7\n'
    'top_k                          20\n'
    'top_p                          0.8'
)


def test_model_parameters_are_typed_and_stop_lines_become_a_list():
    assert options.model_parameters({"parameters": QWEN_PARAMETERS}) == {
        "repeat_penalty": 1.05, "stop": ["<|im_start|>", "<|im_end|>"], "temperature": 0.7, "top_k": 20,
        "top_p": 0.8,
    }


def test_model_parameters_types_follow_the_option_table():
    params = options.model_parameters({"parameters": 'temperature 1\nnum_ctx 4096\nuse_mmap false\n'
                                                     'stop "a \\"quoted\\" one"\nstop "\\n"'})
    assert params == {"temperature": 1.0, "num_ctx": 4096, "use_mmap": False, "stop": ['a "quoted" one', "\n"]}
    assert type(params["temperature"]) is float and type(params["num_ctx"]) is int


def test_unknown_parameters_are_kept_as_text_and_no_parameters_is_empty():
    assert options.model_parameters({"parameters": "mirostat 2\nnum_gqa 8"}) == {"mirostat": "2", "num_gqa": "8"}
    assert options.model_parameters({}) == {}
    assert options.model_parameters({"parameters": ""}) == {}


def test_effective_options_merge_server_then_model_then_request():
    # routes.go modelOptionsWithEmbeddingBatchDefault: DefaultOptions, FromMap(model), FromMap(request)
    model = options.model_parameters({"parameters": QWEN_PARAMETERS})
    effective = options.effective_options(model, {"temperature": 0, "seed": 123, "num_ctx": 2048.0})
    assert set(effective) == {option.name for option in ollama_facts.OPTIONS}
    assert effective["temperature"] == (0.0, "request")  # the request beats the model's 0.7
    assert effective["seed"] == (123, "request")
    assert effective["num_ctx"] == (2048, "request")  # a float for an int option is truncated
    assert effective["top_k"] == (20, "model")  # the model's beats the server's 40
    assert effective["stop"] == (["<|im_start|>", "<|im_end|>"], "model")
    assert effective["repeat_penalty"] == (1.05, "model")
    assert effective["num_keep"] == (4, "server")
    assert effective["typical_p"] == (1.0, "server")


@pytest.mark.parametrize("name", ["num_ctx", "num_batch", "main_gpu", "use_mmap", "draft_num_predict"])
def test_options_the_server_chooses_have_no_value(name):
    assert options.effective_options({}, {})[name] == (None, "server")


def test_server_defaults_without_model_parameters():
    effective = options.effective_options({}, {})
    assert effective["temperature"] == (0.8, "server")
    assert effective["repeat_penalty"] == (1.0, "server")  # 1.1 before 0.32.10
    assert effective["min_p"] == (0.0, "server")  # not in DefaultOptions: Go's zero value, off


def test_a_null_or_wrongly_typed_request_value_leaves_the_layer_below():
    effective = options.effective_options({"temperature": 0.7}, {"temperature": None, "top_k": "x"})
    assert effective["temperature"] == (0.7, "model")
    assert effective["top_k"] == (40, "server")


# --- checks ------------------------------------------------------------------------------------------

# api/types.go at v0.33.0-rc2 (fb30760), Options and Runner: every current option and its Go type
V033_OPTIONS = {
    "num_keep": "int", "seed": "int", "num_predict": "int", "top_k": "int", "top_p": "float",
    "min_p": "float", "typical_p": "float", "repeat_last_n": "int", "temperature": "float",
    "repeat_penalty": "float", "presence_penalty": "float", "frequency_penalty": "float", "stop": "list[str]",
    "num_ctx": "int", "num_batch": "int", "num_gpu": "int", "main_gpu": "int", "use_mmap": "bool",
    "num_thread": "int", "draft_num_predict": "int",
}


def test_the_option_table_is_v033s():
    assert {option.name: option.type for option in options.CURRENT} == V033_OPTIONS


def test_draft_num_predict_is_sendable():
    assert options.check({"draft_num_predict": 8}) == []


def test_a_float_for_an_int_option_is_no_problem():
    assert options.check({"num_ctx": 2048.0, "num_predict": 1.9}) == []


@pytest.mark.parametrize("value", ["2048", True, {"n": 1}, [1]])
def test_strings_bools_and_objects_for_numbers_are_errors(value):
    assert [p.key for p in options.check({"num_ctx": value})] == ["options.problem.type"]


def test_removed_options_name_the_version_that_removed_them():
    problems = options.check({"mirostat": 2, "f16_kv": True, "numa": False, "mirostat_x": 1})
    assert [(p.name, p.key, p.values.get("version")) for p in problems] == [
        ("mirostat", "options.problem.removed", "0.7.0"), ("f16_kv", "options.problem.removed", "0.7.0"),
        ("numa", "options.problem.removed", "0.3.4"), ("mirostat_x", "options.problem.unknown", None)]


def test_removed_and_unknown_options_may_be_sent_but_a_wrong_type_may_not():
    problems = options.check({"mirostat": 2, "my_option": 1, "top_k": "5"})
    assert [(p.name, p.blocking) for p in problems] == [("mirostat", False), ("my_option", False), ("top_k", True)]
    assert all(p.blocking for p in options.parse_advanced("[1]")[1] + options.parse_advanced("{")[1])


def test_a_fraction_for_an_int_option_gets_a_note_not_a_problem():
    assert options.check({"num_predict": 47.9}) == []
    [note] = options.notes({"num_predict": 47.9, "num_ctx": 2048.0, "temperature": 0.5, "top_k": float("inf")})
    assert (note.key, note.values) == ("options.note.truncated", {"name": "num_predict", "value": 47.9, "kept": 47})


def test_the_texts_for_a_removed_or_unknown_option_quote_ollamas_log_line():
    from lib import i18n
    for lang in i18n.LANGUAGES:
        for key in ("options.problem.removed", "options.problem.unknown", "options.advanced_help"):
            assert ollama_facts.INVALID_OPTION_LOG in i18n.catalog(lang)[key]
