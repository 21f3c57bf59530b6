"""The built-in server's pure parts: durations, options, stop strings, prompts."""
from __future__ import annotations

import json
import math

import pytest

from lib.builtin_server import prompts, validation
from lib.builtin_server.sampling import split_stop as _split_stop
from lib.builtin_server.validation import ApiError


@pytest.mark.parametrize("value,message", [
    ("300", 'time: missing unit in duration "300"'), ("soon", 'time: invalid duration "soon"'),
    ("", 'time: invalid duration ""'), ("5x", 'time: unknown unit "x" in duration "5x"'),
    ("--5m", 'time: invalid duration "--5m"'), (True, "Unsupported type: 'bool' for keep_alive"),
])
def test_bad_keep_alive_is_a_400_with_gos_message(value, message):
    # the durations themselves are tests/test_ollama_facts.py's
    with pytest.raises(ApiError) as error:
        validation.keep_alive(value)
    assert (error.value.status, error.value.message) == (400, message)


@pytest.mark.parametrize("value,seconds", [
    (None, 300), (0, 0), (30, 30), (-1, math.inf), ("-1m", math.inf), ("1h", 3600), (10**400, math.inf), (1e300, math.inf),
])
def test_keep_alive(value, seconds):
    assert validation.keep_alive(value) == seconds


def test_options_defaults_conversions_and_ignored_keys(caplog):
    assert validation.options(None) == validation.Options()
    defaults = validation.Options()
    assert (defaults.temperature, defaults.top_k, defaults.top_p, defaults.repeat_penalty, defaults.seed) == (0.8, 40, 0.9, 1.0, -1)
    chosen = validation.options({"temperature": 1, "top_k": 7.9, "stop": ["\n", ""], "num_gpu": 3, "numa": True, "x": 1})
    assert (chosen.temperature, chosen.top_k, chosen.stop) == (1.0, 7, ("\n",))
    assert "'numa' is no longer supported" in caplog.text and "'x' is not a known Ollama option" in caplog.text
    # current options this CPU-only engine does not use are still type-checked
    assert validation.options({"draft_num_predict": 2.0, "num_gpu": -1, "use_mmap": False}) == defaults
    with pytest.raises(ApiError, match='option "draft_num_predict" must be of type integer'):
        validation.options({"draft_num_predict": "4"})


def test_split_stop_holds_back_a_possible_stop_string():
    assert _split_stop("Hello Us", ("User:",)) == ("Hello ", "Us", False)
    assert _split_stop("Hello User: hi", ("User:",)) == ("Hello ", "", True)
    assert _split_stop("abc", ()) == ("abc", "", False)
    assert _split_stop("a\n\nb", ("\n\n", "b")) == ("a", "", True)


def test_the_prompt_twins():
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Why?"}]
    assert prompts.chatml_prompt(chat) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n")
    # A last assistant message is continued, not closed.
    assert prompts.chatml_prompt([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hel"}]).endswith(
        "<|im_start|>assistant\nHel")
    assert prompts.base_prompt(chat) == "Be brief.\n\nHiHelloWhy?"  # Ollama runs a base template once per turn
    assert prompts.base_prompt([{"role": "system", "content": "Eres breve."}, {"role": "user", "content": "Hola"}]) == (
        "Eres breve.\n\nHola")


def test_body_parsing_rejects_what_go_rejects():
    with pytest.raises(ApiError, match="missing request body"):
        validation.parse_body(b"", "api.GenerateRequest")
    with pytest.raises(ApiError, match="invalid character 'N'"):
        validation.parse_body(b'{"options": {"temperature": NaN}}', "api.GenerateRequest")
    assert validation.parse_body(b'{"prompt": "\\ud800"}', "x") == {"prompt": "\ufffd"}  # lone surrogate


def test_json_lines_escape_line_separators_as_go_does():
    from lib.builtin_server.server import _dumps
    line = _dumps({"response": "a\u2028b\u2029c\x85d"})
    assert b"\\u2028" in line and b"\\u2029" in line and b"\n" not in line
    assert json.loads(line)["response"] == "a\u2028b\u2029c\x85d"
