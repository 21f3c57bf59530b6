"""lib/options.py and lib/chat.py: option checks, what each mode sends, metrics, export/import."""
import json

import pytest

from lib import chat, options
from lib.client import Exchange


def test_option_checks():
    assert options.check({"temperature": 0, "seed": 123, "stop": ["\n", "user:"]}) == []
    problems = {p.name: p.key for p in options.check({"tfs_z": 0.5, "mirostat": 1, "colour": 1,
                                                      "temperature": "hot", "stop": "user:", "seed": 1.5})}
    assert problems == {"tfs_z": "options.problem.removed", "mirostat": "options.problem.removed",
                        "colour": "options.problem.unknown", "temperature": "options.problem.type",
                        "stop": "options.problem.type", "seed": "options.problem.type"}
    removed = options.check({"num_gqa": 1})[0]
    assert removed.values == {"name": "num_gqa", "version": "0.1.35"}


def test_every_option_has_a_meaning_in_both_languages():
    from lib import i18n
    for option in options.CURRENT:
        assert option.meaning_key in i18n.catalog("es") and option.meaning_key in i18n.catalog("en")


@pytest.mark.parametrize("text, result, keys", [
    ("", {}, []), ('{"min_p": 0.05}', {"min_p": 0.05}, []),
    ("{not json", {}, ["options.problem.json"]), ("[1]", {}, ["options.problem.not_object"]),
    ('{"penalize_newline": true}', {"penalize_newline": True}, ["options.problem.removed"]),
])
def test_advanced_box(text, result, keys):
    parsed, problems = options.parse_advanced(text)
    assert parsed == result and [p.key for p in problems] == keys


def test_stop_and_keep_alive():
    assert options.parse_stop("\\n\nuser:\n") == ["\n", "user:"]
    assert [options.parse_keep_alive(v) for v in ("", "0", "-1", "300", "5m", "1h30m")] == [None, 0, -1, 300, "5m", "1h30m"]
    for bad in ("five minutes", "5 m", "m5"):
        with pytest.raises(ValueError):
            options.parse_keep_alive(bad)


def test_chat_mode_sends_the_whole_history():
    turns = chat.course_example()
    assert chat.chat_messages("Responde en español.", turns) == [
        {"role": "system", "content": "Responde en español."},
        {"role": "user", "content": "2 + 2"}, {"role": "assistant", "content": "the answer is 4"},
        {"role": "user", "content": "3 * 3"}, {"role": "assistant", "content": "the answer is 9"},
        {"role": "user", "content": "10 / 2"}]
    failed = chat.Turn("assistant", "", error="boom")
    assert chat.chat_messages("", [chat.Turn("user", "hola"), failed]) == [{"role": "user", "content": "hola"}]


def test_generate_mode_carries_context_when_asked():
    turns = [chat.Turn("user", "hola"), chat.Turn("assistant", "¿qué tal?", context=[1, 2, 3]),
             chat.Turn("user", "bien")]
    assert chat.generate_fields("", turns, carry_context=True) == {"prompt": "bien", "context": [1, 2, 3]}
    assert chat.generate_fields("sé breve", turns, carry_context=False) == {"prompt": "bien", "system": "sé breve"}


def test_regenerate_keeps_up_to_the_last_question():
    turns = chat.course_example() + [chat.Turn("assistant", "5")]
    assert [t.content for t in chat.without_last_answer(turns)][-1] == "10 / 2"
    assert chat.without_last_answer([]) == []


def test_metrics_guard_zero_durations():
    exchange = Exchange("POST", "http://x", "/api/chat")
    exchange.first_byte_s, exchange.elapsed_s = 0.25, 2.0
    values = chat.metrics({"eval_count": 10, "eval_duration": 0, "prompt_eval_count": 5,
                           "load_duration": 1_500_000_000}, exchange)
    assert values["tokens_per_second"] is None and values["load_s"] == 1.5
    assert values["first_token_s"] == 0.25 and values["prompt_tokens"] == 5
    assert chat.metrics(None, None)["output_tokens"] is None


TRICKY = "¿Qué es `ñ`? Ünïcödé 🦙🚀\n```python\nprint('hola')\n```\n<script>alert(1)</script>"


def test_export_then_import_is_the_same_conversation():
    turns = [chat.Turn("user", TRICKY), chat.Turn("assistant", "Respuesta 😊 con **negrita**", stopped=True),
             chat.Turn("user", "otra"), chat.Turn("assistant", "parcial", error="server crashed")]
    text = chat.export_json("gemma:2b", "generate", "Sé breve", {"seed": 123, "stop": ["\n"]}, turns)
    assert "🦙" in text  # written as UTF-8, not \\u escapes
    back = chat.import_json(text.encode("utf-8"))
    assert (back.model, back.mode, back.system, back.options) == ("gemma:2b", "generate", "Sé breve",
                                                                  {"seed": 123, "stop": ["\n"]})
    assert [(t.role, t.content, t.stopped, t.error) for t in back.turns] == \
        [(t.role, t.content, t.stopped, t.error) for t in turns]


def test_import_a_course_request_body():
    body = {"model": "gemma:2b", "messages": [{"role": "user", "content": "2 + 2"},
                                               {"role": "assistant", "content": "the answer is 4"}],
            "stream": False}
    back = chat.import_json(json.dumps(body).encode())
    assert back.model == "gemma:2b" and back.mode == "chat" and len(back.turns) == 2


@pytest.mark.parametrize("data, key", [
    (b"\xff\xfe", "chat.import.not_json"), (b"{", "chat.import.not_json"),
    (b'{"hello": 1}', "chat.import.not_chat"), (b"[]", "chat.import.not_chat"),
    (b'{"messages": [{"role": "wizard", "content": "x"}]}', "chat.import.bad_message"),
    (b'{"messages": [{"role": "user", "content": 3}]}', "chat.import.bad_message"),
    (b'{"messages": [], "options": {"tfs_z": 1}}', "chat.import.bad_options"),
    (b" " * (chat.MAX_IMPORT_BYTES + 1), "chat.import.too_large"),
])
def test_import_refuses_what_is_not_a_chat(data, key):
    with pytest.raises(chat.ImportRefused) as caught:
        chat.import_json(data)
    assert caught.value.key == key


def test_markdown_transcript():
    labels = {"title": "Conversación", "model": "Modelo", "options": "Opciones", "system": "Sistema",
              "user": "Usuario", "assistant": "Asistente", "stopped": "(detenida)", "error": "Error"}
    text = chat.export_markdown("gemma:2b", "chat", "", {"seed": 1},
                                [chat.Turn("user", "hola"), chat.Turn("assistant", "adiós", stopped=True)], labels)
    assert text.startswith("# Conversación\n\n- **Modelo**: `gemma:2b` (/api/chat)")
    assert "## Usuario\n\nhola" in text and "## Asistente\n\nadiós\n\n_(detenida)_" in text
