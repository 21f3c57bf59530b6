"""lib/options.py and lib/chat.py: option checks, what each mode sends, the answer's life (done,
failed, stopped by the next run, cut short by another page), the window, export/import.

The answer tests drive lib/chat.py as pages/chat.py does, without Streamlit, against the fake
server replaying the course's recordings."""
import json
import threading
import time

import pytest

from lib import chat, options
from lib.client import OllamaClient
from lib.generation import Generation
from tests.plugins.fake_ollama import fixture_lines


def test_option_checks():
    assert options.check({"temperature": 0, "seed": 123, "stop": ["\n", "user:"]}) == []
    problems = {p.name: p.key for p in options.check({"tfs_z": 0.5, "mirostat": 1, "colour": 1,
                                                      "temperature": "hot", "stop": "user:", "seed": "1"})}
    assert problems == {"tfs_z": "options.problem.removed", "mirostat": "options.problem.removed",
                        "colour": "options.problem.unknown", "temperature": "options.problem.type",
                        "stop": "options.problem.type", "seed": "options.problem.type"}
    assert [options.check({name: 1})[0].values for name in ("num_gqa", "mirostat")] == [
        {"name": "num_gqa", "version": "0.1.35"}, {"name": "mirostat", "version": "0.7.0"}]
    # Ollama truncates a float given to an int option; draft_num_predict is a current option
    assert options.check({"seed": 1.5, "num_ctx": 2048.0, "draft_num_predict": 4}) == []


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


TRICKY = "¿Qué es `ñ`? Ünïcödé 🦙🚀\n```python\nprint('hola')\n```\n<script>alert(1)</script>"


def test_export_then_import_is_the_same_conversation():
    turns = [chat.Turn("user", TRICKY), chat.Turn("assistant", "Respuesta 😊 con **negrita**", stopped=True),
             chat.Turn("user", "otra"), chat.Turn("assistant", "parcial", error="server crashed")]
    settings = chat.Settings("gemma:2b", "generate", "Sé breve", {"seed": 123, "stop": ["\n"]})
    text = chat.export_json(settings, turns)
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
    text = chat.export_markdown(chat.Settings("gemma:2b", options={"seed": 1}),
                                [chat.Turn("user", "hola"), chat.Turn("assistant", "adiós", stopped=True)], labels)
    assert text.startswith("# Conversación\n\n- **Modelo**: `gemma:2b` (/api/chat)")
    assert "## Usuario\n\nhola" in text and "## Asistente\n\nadiós\n\n_(detenida)_" in text


# ------------------------------------------------------------------------------ the answer
RECORDED_ANSWER = ("El cielo no es azúl. El cielo es un color negro y azul debido al refracción y la absorción "
                   "de la luz solar por las moléculas del aire y el espacio interestelar.")


def asked(question="¿porqué el cielo es azúl?") -> chat.Conversation:
    conversation = chat.Conversation()
    conversation.ask(question)
    return conversation


def poll(condition, timeout: float = 5.0) -> bool:
    """Waits for what another thread (or the fake server) does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_a_streamed_answer_keeps_its_text_numbers_and_http(fake_ollama):
    conversation = asked()
    assert conversation.waiting_question()
    answer = conversation.answer(OllamaClient(fake_ollama.url), chat.Settings("gemma:2b"), stream=True)
    assert conversation.live is answer and not conversation.waiting_question()
    assert "".join(answer.texts()) == RECORDED_ANSWER
    conversation.finish(answer)
    turn = conversation.turns[-1]
    assert conversation.live is None and (turn.role, turn.content, turn.stopped, turn.error) == \
        ("assistant", RECORDED_ANSWER, False, None)
    assert turn.metrics == Generation.from_final(json.loads(fixture_lines("chat-stream")[-1]),
                                                 first_token_s=answer.stream.first_text_s,
                                                 wall_s=turn.exchange.elapsed_s, thinking_tokens=0)
    assert turn.metrics.output_tokens == 39 and turn.metrics.first_token_s >= turn.exchange.first_byte_s > 0
    assert (turn.thinking, turn.metrics.first_thinking_s, turn.metrics.thinking_s) == ("", None, None)
    assert turn.exchange.body["messages"] == [{"role": "user", "content": "¿porqué el cielo es azúl?"}]
    assert not answer.stopped and conversation.take_error() is None


def test_a_whole_answer_has_arrived_when_sent(fake_ollama):
    fake_ollama.reply("POST", "/api/chat", body=json.loads(fixture_lines("chat-nostream")[0]))
    conversation = asked()
    answer = conversation.answer(OllamaClient(fake_ollama.url), chat.Settings("gemma:2b"), stream=False)
    turn = conversation.turns[-1]
    assert turn.content.startswith("El cielo no es azúl. El cielo es un color azul") and conversation.live is None
    assert list(answer.texts()) == [turn.content]  # what st.write_stream shows
    assert turn.metrics.output_tokens == 35 and round(turn.metrics.tokens_per_second, 1) == 15.1
    assert turn.exchange.body["stream"] is False


def test_generate_mode_keeps_the_context_for_the_next_prompt(fake_ollama):
    recorded = json.loads(fixture_lines("generate-nostream")[0])
    fake_ollama.reply("POST", "/api/generate", body=recorded)
    conversation, client = asked("¿Por qué el cielo es azul?"), OllamaClient(fake_ollama.url)
    settings = chat.Settings("gemma:2b", mode="generate", system="Sé breve")
    conversation.answer(client, settings, stream=False)
    conversation.ask("¿Y el mar?")
    conversation.answer(client, settings, stream=False)
    first, second = fake_ollama.bodies("/api/generate")
    assert first == {"model": "gemma:2b", "prompt": "¿Por qué el cielo es azul?", "system": "Sé breve",
                     "stream": False}
    assert second["context"] == recorded["context"] and second["prompt"] == "¿Y el mar?"
    assert conversation.turns[1].metrics.load_s == pytest.approx(2.006890139)


def test_stop_is_settled_by_the_next_run(fake_ollama):
    """Stop starts a new run while the old one still reads the stream on its own thread: the new
    run settles the answer, and the old run, its stream closed under it, leaves it alone."""
    fake_ollama.stream("POST", "/api/chat", fixture_lines("chat-stream"), delay=0.05)
    conversation = asked()
    answer = conversation.answer(OllamaClient(fake_ollama.url), chat.Settings("gemma:2b"), stream=True)
    shown = []

    def old_run():  # st.write_stream(answer.texts()), then the page's `finally`
        shown.extend(answer.texts())
        conversation.finish(answer)

    reader = threading.Thread(target=old_run)
    reader.start()
    assert poll(lambda: len(shown) >= 3)
    conversation.settle()  # the new run, first thing
    reader.join(timeout=5)
    turn = conversation.turns[-1]
    assert not reader.is_alive() and conversation.live is None and answer.stopped
    assert turn.stopped and turn.metrics is None and turn.error is None and turn.exchange is not None
    assert turn.content == "".join(shown) and turn.content.startswith("El cielo no") and turn.content != RECORDED_ANSWER
    assert poll(lambda: "client closed" in fake_ollama.stream_endings)  # the server stopped generating


def test_an_answer_cut_short_by_another_page_keeps_what_arrived(fake_ollama):
    """Another page: the streaming run is stopped mid-write and no chat run follows it."""
    fake_ollama.stream("POST", "/api/chat", fixture_lines("chat-stream"), delay=0.05)
    conversation = asked()
    answer = conversation.answer(OllamaClient(fake_ollama.url), chat.Settings("gemma:2b"), stream=True)
    shown = answer.texts()
    next(shown), next(shown), next(shown)
    conversation.finish(answer)  # the run's `finally`, the generator left where it was
    turn = conversation.turns[-1]
    assert (turn.content, turn.stopped) == ("El cielo no", True) and conversation.live is None
    assert poll(lambda: "client closed" in fake_ollama.stream_endings)
    conversation.settle()  # back on the chat page: nothing left to settle
    assert turn.content == "El cielo no"


def test_a_click_during_an_answer_does_not_touch_the_next_answer(fake_ollama):
    """Regenerate mid-stream: the new run settles the first answer and starts another, which the
    old run's last step must leave alone."""
    fake_ollama.stream("POST", "/api/chat", fixture_lines("chat-stream"), delay=0.05)
    conversation, client = asked(), OllamaClient(fake_ollama.url)
    first = conversation.answer(client, chat.Settings("gemma:2b"), stream=True)
    next(first.texts())
    conversation.regenerate()  # the button's callback runs before the new run's script
    conversation.settle()
    second = conversation.answer(client, chat.Settings("gemma:2b"), stream=True)
    conversation.finish(first)  # the old run ends late
    assert conversation.live is second and not second.stopped
    assert "".join(second.texts()) == RECORDED_ANSWER
    conversation.finish(second)
    assert [t.content for t in conversation.turns] == ["¿porqué el cielo es azúl?", RECORDED_ANSWER]


def test_an_error_mid_stream_keeps_the_partial_answer_and_is_explained_once(fake_ollama):
    fake_ollama.stream("POST", "/api/chat", fixture_lines("chat-stream")[:4] +
                       ['{"error":"an error was encountered while running the model: unexpected EOF"}'])
    conversation = asked()
    answer = conversation.answer(OllamaClient(fake_ollama.url), chat.Settings("gemma:2b"), stream=True)
    assert "".join(answer.texts()) == "El cielo no es"
    conversation.finish(answer)
    turn = conversation.turns[-1]
    assert turn.content == "El cielo no es" and "unexpected EOF" in turn.error and not turn.stopped
    assert "unexpected EOF" in conversation.take_error().message and conversation.take_error() is None


def test_a_refused_request_leaves_a_failed_turn(fake_ollama):
    fake_ollama.reply("POST", "/api/chat", 404, {"error": "model 'gemma:2b' not found"})
    conversation = asked()
    answer = conversation.answer(OllamaClient(fake_ollama.url), chat.Settings("gemma:2b"), stream=True)
    assert list(answer.texts()) == [] and conversation.live is None
    turn = conversation.turns[-1]
    assert (turn.role, turn.content, turn.exchange.status) == ("assistant", "", 404) and "not found" in turn.error
    assert conversation.take_error().model == "gemma:2b"
    assert chat.chat_messages("", conversation.turns) == [{"role": "user", "content": "¿porqué el cielo es azúl?"}]


def test_settings_are_sent_as_ollama_reads_them(fake_ollama):
    settings = chat.Settings("gemma:2b", system="Responde en una frase.", options={"temperature": 0.0},
                             format="json", keep_alive="10m")
    conversation = asked("hola")
    "".join(conversation.answer(OllamaClient(fake_ollama.url), settings, stream=True).texts())
    assert fake_ollama.bodies("/api/chat") == [{
        "model": "gemma:2b", "messages": [{"role": "system", "content": "Responde en una frase."},
                                          {"role": "user", "content": "hola"}],
        "options": {"temperature": 0.0}, "format": "json", "keep_alive": "10m", "stream": True}]


# ------------------------------------------------------------------------------ the window
def test_the_window_shows_the_latest_turns_and_more_on_request():
    conversation = chat.Conversation()
    conversation.replace([chat.Turn("user", str(n)) for n in range(45)])
    assert conversation.first_shown == 45 - chat.WINDOW
    conversation.show_earlier()
    assert conversation.first_shown == 45 - 2 * chat.WINDOW
    conversation.ask("one more")  # the window follows the conversation
    assert conversation.first_shown == 46 - 2 * chat.WINDOW
    conversation.show_earlier()
    assert conversation.first_shown == 0
    conversation.show_all()
    conversation.ask("and another")
    assert conversation.first_shown == 0 and len(conversation.turns) == 47
    conversation.replace([])  # Clear: a new conversation starts with the window again
    assert conversation.shown == chat.WINDOW and conversation.first_shown == 0 and not conversation.pending
    conversation.load_example()
    assert conversation.waiting_question() and len(conversation.turns) == 5


def test_metrics_survive_export_and_import():
    metrics = Generation.from_final(json.loads(fixture_lines("chat-stream")[-1]), first_token_s=0.25, wall_s=7.1)
    turns = [chat.Turn("user", "hola"), chat.Turn("assistant", "El cielo", metrics=metrics)]
    text = chat.export_json(chat.Settings("gemma:2b"), turns)
    assert json.loads(text)["messages"][1]["metrics"] == metrics.as_dict()
    back = chat.import_json(text.encode()).turns[1].metrics
    assert back == metrics and round(back.tokens_per_second, 1) == 6.0


@pytest.mark.parametrize("metrics, expected", [
    ({"prompt_tokens": 1}, Generation(prompt_tokens=1)),
    ({"output_tokens": "many", "eval_s": "x", "wall_s": [1], "done_reason": 3}, Generation()),
    ({"output_tokens": True, "prompt_tokens": -5, "load_s": float("nan")}, Generation()),
])
def test_imported_metrics_keep_only_numbers(metrics, expected):
    body = {"messages": [{"role": "assistant", "content": "x", "metrics": metrics},
                         {"role": "assistant", "content": "y", "metrics": "fast"}]}
    first, second = chat.import_json(json.dumps(body).encode()).turns
    assert first.metrics == expected and first.metrics.tokens_per_second is None
    assert second.metrics is None


# ------------------------------------------------------------------------------ imports that cannot break a page
def test_at_most_2000_messages_are_imported_and_a_huge_file_is_refused_at_once():
    messages = [{"role": "user", "content": f"m{n}"} for n in range(100_000)]
    data = json.dumps({"messages": messages}).encode()
    assert len(data) < chat.MAX_IMPORT_BYTES  # under the size cap: the count refuses it
    started = time.perf_counter()
    with pytest.raises(chat.ImportRefused) as refused:
        chat.import_json(data)
    assert (refused.value.key, refused.value.values) == ("chat.import.too_many", {"count": 100_000, "limit": 2_000})
    assert time.perf_counter() - started < 5
    assert len(chat.import_json(json.dumps({"messages": messages[:2_000]}).encode()).turns) == 2_000


@pytest.mark.parametrize("body, key, values", [
    ({"model": 3, "messages": []}, "chat.import.bad_field", {"field": "model"}),
    ({"system": ["x"], "messages": []}, "chat.import.bad_field", {"field": "system"}),
    ({"mode": "edit", "messages": []}, "chat.import.bad_field", {"field": "mode"}),
    ({"options": [1], "messages": []}, "chat.import.bad_options", {}),
    ({"options": {"temperature": "hot"}, "messages": []}, "chat.import.bad_options", {}),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "stopped": "no"}]},
     "chat.import.bad_message_field", {"number": 2, "field": "stopped"}),
    ({"messages": [{"role": "assistant", "content": "b", "error": {"boom": 1}}]},
     "chat.import.bad_message_field", {"number": 1, "field": "error"}),
    ({"messages": [{"role": "user", "content": None}]}, "chat.import.bad_message", {"number": 1}),
    ({"messages": ["hola"]}, "chat.import.bad_message", {"number": 1}),
    ({"messages": {"role": "user"}}, "chat.import.not_chat", {}),
])
def test_import_checks_the_type_of_every_field_it_uses(body, key, values):
    with pytest.raises(chat.ImportRefused) as refused:
        chat.import_json(json.dumps(body).encode())
    assert refused.value.key == key and values.items() <= refused.value.values.items()


def test_fields_it_does_not_use_are_left_alone():
    body = {"model": "llava", "stream": False, "format": {"type": "object"}, "keep_alive": "5m", "tools": [],
            "messages": [{"role": "user", "content": "¿qué hay?", "images": ["aGVsbG8="], "thinking": None,
                          "context": "not read from a file", "stopped": False, "error": None, "metrics": None}]}
    imported = chat.import_json(json.dumps(body).encode())
    assert imported.model == "llava" and imported.turns[0].content == "¿qué hay?"
    assert imported.turns[0].context is None and not imported.turns[0].stopped and imported.turns[0].error is None


def test_deep_nesting_is_refused_clearly():
    deep = b'{"messages": [{"role": "user", "content": "x", "metrics": ' + b"[" * 200_000 + b"]" * 200_000 + b"}]}"
    assert len(deep) < chat.MAX_IMPORT_BYTES
    with pytest.raises(chat.ImportRefused) as refused:
        chat.import_json(deep)
    assert refused.value.key == "chat.import.too_deep"


# ------------------------------------------------------------------------------ what is saved
def test_every_change_of_the_turns_moves_the_revision(fake_ollama):
    conversation = chat.Conversation()
    seen = [conversation.revision]

    def moved() -> bool:
        seen.append(conversation.revision)
        return seen[-1] != seen[-2]

    conversation.ask("hola")
    assert moved()
    answer = conversation.answer(OllamaClient(fake_ollama.url), chat.Settings("gemma:2b"), stream=True)
    "".join(answer.texts())
    conversation.finish(answer)
    assert moved() and conversation.turns[-1].metrics
    conversation.regenerate()
    assert moved()
    first_id = conversation.id
    conversation.replace([])
    assert moved() and conversation.id != first_id


def test_the_saved_form_keeps_the_context_an_export_leaves_out():
    conversation = chat.Conversation([chat.Turn("user", "hola"), chat.Turn("assistant", "¿qué tal?", context=[1, 2])])
    saved = chat.saved_form(conversation)
    assert saved["messages"][1]["context"] == [1, 2]
    assert chat.from_saved_form(saved)[1].context == [1, 2]
    assert "context" not in json.loads(chat.export_json(chat.Settings("gemma:2b"), conversation.turns))["messages"][1]


# ------------------------------------------------------------------------------ thinking models (today's API)
REASONING = ("Okay, the user is asking for the capital of Spain. I know that the capital of Spain is Madrid. Let me "
             "make sure there's no confusion with other cities like Barcelona. No, it's definitely Madrid. I should "
             "answer in Spanish, briefly.\n")
MADRID = "La capital de España es **Madrid**."


def thinking_answer(fake_ollama, settings=None, lines=None, delay=0.0, stream=True):
    fake_ollama.stream("POST", "/api/chat", lines or fixture_lines("today-chat-think"), delay=delay)
    conversation = asked("¿Cuál es la capital de España?")
    answer = conversation.answer(OllamaClient(fake_ollama.url), settings or chat.Settings("qwen3:0.6b"), stream=stream)
    return conversation, answer


def test_a_thinking_answer_keeps_its_reasoning_apart_with_its_own_numbers(fake_ollama):
    conversation, answer = thinking_answer(fake_ollama)
    pieces = list(answer.pieces())
    assert [k for k, _ in pieces] == ["thinking"] * 51 + ["content"] * 9
    conversation.finish(answer)
    turn, metrics = conversation.turns[-1], conversation.turns[-1].metrics
    assert (turn.thinking, turn.content) == (REASONING, MADRID)
    assert metrics.output_tokens == 64 and metrics.thinking_tokens == 51 and metrics.answer_tokens == 13
    # client-measured: first reasoning piece, then the first answer piece; the reasoning between them
    assert 0 < metrics.first_thinking_s <= metrics.first_token_s <= metrics.wall_s
    assert metrics.thinking_s == pytest.approx(metrics.first_token_s - metrics.first_thinking_s)
    assert "think" not in turn.exchange.body  # absent: the model thinks (Ollama's default)


def test_think_and_a_schema_are_sent_in_both_modes(fake_ollama):
    schema = {"type": "object", "properties": {"pais": {"type": "string"}}, "required": ["pais"]}
    client = OllamaClient(fake_ollama.url)
    for mode, path in (("chat", "/api/chat"), ("generate", "/api/generate")):
        conversation = asked("Háblame de Perú")
        settings = chat.Settings("qwen3:0.6b", mode=mode, format=schema, think=False)
        "".join(conversation.answer(client, settings, stream=True).texts())
        body = fake_ollama.bodies(path)[-1]
        assert body["think"] is False and body["format"] == schema
        assert (conversation.turns[-1].think, conversation.turns[-1].format) == (False, schema)
    conversation = asked("hola")
    "".join(conversation.answer(client, chat.Settings("gemma:2b", think=None), stream=True).texts())
    assert "think" not in fake_ollama.bodies("/api/chat")[-1] and "format" not in fake_ollama.bodies("/api/chat")[-1]


def test_stop_while_it_reasons_keeps_the_reasoning(fake_ollama):
    conversation, answer = thinking_answer(fake_ollama, delay=0.05)
    shown = []

    def old_run():
        shown.extend(answer.pieces())
        conversation.finish(answer)

    reader = threading.Thread(target=old_run)
    reader.start()
    assert poll(lambda: len(shown) >= 4)
    conversation.settle()  # Stop: the new run, first thing
    reader.join(timeout=5)
    turn = conversation.turns[-1]
    assert not reader.is_alive() and turn.stopped and turn.content == "" and turn.error is None
    assert turn.thinking == "".join(text for _, text in shown) and REASONING.startswith(turn.thinking)
    assert len(turn.thinking) >= len("Okay, the user") and turn.thinking != REASONING
    assert poll(lambda: "client closed" in fake_ollama.stream_endings)


def test_stop_after_the_answer_began_keeps_both(fake_ollama):
    conversation, answer = thinking_answer(fake_ollama)
    pieces = answer.pieces()
    for _ in range(53):  # all the reasoning and two pieces of the answer
        next(pieces)
    conversation.settle()
    turn = conversation.turns[-1]
    assert (turn.thinking, turn.content, turn.stopped) == (REASONING, "La capital", True)


def test_an_answer_that_ends_while_reasoning_is_kept_as_such(fake_ollama):
    final = json.loads(fixture_lines("today-chat-think")[-1]) | {"done_reason": "length", "eval_count": 20}
    conversation, answer = thinking_answer(fake_ollama, lines=fixture_lines("today-chat-think")[:20] + [json.dumps(final)])
    assert list(answer.texts()) == []  # no answer text at all
    conversation.finish(answer)
    turn = conversation.turns[-1]
    assert turn.content == "" and turn.thinking.startswith("Okay, the user") and not turn.stopped
    assert turn.metrics.done_reason == "length" and turn.metrics.thinking_tokens == 20
    assert turn.metrics.first_token_s is None and turn.metrics.thinking_s > 0  # reasoned until the end
    assert chat.chat_messages("", conversation.turns) == [{"role": "user", "content": "¿Cuál es la capital de España?"}]


def test_an_error_while_reasoning_keeps_the_reasoning(fake_ollama):
    lines = fixture_lines("today-chat-think")[:10] + ['{"error":"llama runner process has terminated: exit status 2"}']
    conversation, answer = thinking_answer(fake_ollama, lines=lines)
    list(answer.pieces())
    conversation.finish(answer)
    turn = conversation.turns[-1]
    assert turn.thinking == "Okay, the user is asking for the capital of" and "terminated" in turn.error
    assert conversation.take_error() is not None


def test_a_whole_thinking_answer_carries_its_reasoning(fake_ollama):
    final = json.loads(fixture_lines("today-chat-think")[-1])
    final["message"] = {"role": "assistant", "content": MADRID, "thinking": REASONING}
    fake_ollama.reply("POST", "/api/chat", body=final)
    conversation = asked("¿Cuál es la capital de España?")
    answer = conversation.answer(OllamaClient(fake_ollama.url), chat.Settings("qwen3:0.6b"), stream=False)
    assert list(answer.pieces()) == [("thinking", REASONING), ("content", MADRID)]
    turn = conversation.turns[-1]
    assert (turn.thinking, turn.content) == (REASONING, MADRID)
    assert turn.metrics.thinking_tokens is None and turn.metrics.output_tokens == 64  # arrived whole: not counted


def test_compare_asks_the_same_question_again_with_the_opposite_think(fake_ollama):
    conversation, answer = thinking_answer(fake_ollama)
    list(answer.pieces())
    conversation.finish(answer)
    fake_ollama.stream("POST", "/api/chat", fixture_lines("today-chat-schema"))
    conversation.compare(False)
    assert conversation.waiting_question()
    again = conversation.answer(OllamaClient(fake_ollama.url), chat.Settings("qwen3:0.6b"), stream=True)
    list(again.pieces())
    conversation.finish(again)
    first, second = fake_ollama.bodies("/api/chat")
    assert second["messages"] == first["messages"] == [{"role": "user", "content": "¿Cuál es la capital de España?"}]
    assert "think" not in first and second["think"] is False
    turns = conversation.turns
    assert [(t.role, t.compares, t.think) for t in turns] == [("user", False, None), ("assistant", False, None),
                                                              ("assistant", True, False)]
    assert chat.same_question(turns, 2) == turns[1:] and chat.same_question(turns, 1) == turns[1:]
    assert turns[2].metrics.thinking_tokens == 0 and turns[1].metrics.thinking_tokens == 51
    conversation.ask("¿Y de Francia?")  # the history goes on with the first answer only
    assert chat.chat_messages("", conversation.turns) == [
        {"role": "user", "content": "¿Cuál es la capital de España?"}, {"role": "assistant", "content": MADRID},
        {"role": "user", "content": "¿Y de Francia?"}]
    assert not conversation.again_with and chat.same_question(conversation.turns, 1) == turns[1:3]


def test_regenerate_forgets_a_pending_compare():
    conversation = chat.Conversation([chat.Turn("user", "hola"), chat.Turn("assistant", "hola")])
    conversation.compare(True)
    conversation.regenerate()
    assert conversation.again_with is None and conversation.waiting_question()


def test_reasoning_think_format_and_compare_survive_export_import_and_saving():
    schema = {"type": "object", "properties": {"pais": {"type": "string"}}}
    turns = [chat.Turn("user", "¿Capital de España?"),
             chat.Turn("assistant", MADRID, thinking=REASONING, think="high", format=schema,
                       metrics=Generation(output_tokens=64, thinking_tokens=51, thinking_s=1.6, first_thinking_s=0.15)),
             chat.Turn("assistant", "Madrid", think=False, format="json", compares=True)]
    text = chat.export_json(chat.Settings("gpt-oss:20b"), turns)
    exported = json.loads(text)["messages"]
    assert exported[1]["thinking"] == REASONING and exported[1]["think"] == "high" and exported[1]["format"] == schema
    assert exported[2]["compares"] is True and exported[2]["think"] is False and "thinking" not in exported[2]
    for back in (chat.import_json(text.encode()).turns,
                 chat.from_saved_form(chat.saved_form(chat.Conversation(turns)))):
        assert [(t.thinking, t.think, t.format, t.compares, t.metrics) for t in back] == \
            [(t.thinking, t.think, t.format, t.compares, t.metrics) for t in turns]


def test_the_markdown_transcript_keeps_the_reasoning_above_the_answer():
    labels = {"title": "Conversation", "model": "Model", "options": "Options", "system": "System", "user": "User",
              "assistant": "Assistant", "stopped": "(stopped)", "error": "Error", "reasoning": "Reasoning",
              "compares": "(asked again, to compare)"}
    turns = [chat.Turn("user", "¿Capital?"), chat.Turn("assistant", MADRID, thinking="Pienso.\nMadrid."),
             chat.Turn("assistant", "Madrid", think=False, compares=True)]
    text = chat.export_markdown(chat.Settings("qwen3:0.6b"), turns, labels)
    assert f"## Assistant\n\n**Reasoning**\n\n> Pienso.\n> Madrid.\n\n{MADRID}" in text
    assert "## Assistant\n\n_(asked again, to compare)_\n\n`think`: `false`\n\nMadrid" in text


@pytest.mark.parametrize("field, value, expected", [
    ("thinking", ["x"], "`string`"), ("compares", "yes", "`true` / `false`"),
    ("think", "very", '`true` / `false` / `"low"` / `"medium"` / `"high"`'), ("think", 1, None),
    ("format", "xml", None), ("format", {"type": "objeto"}, None), ("format", ["json"], None),
])
def test_imported_reasoning_fields_are_checked(field, value, expected):
    body = {"messages": [{"role": "assistant", "content": "x", field: value}]}
    with pytest.raises(chat.ImportRefused) as refused:
        chat.import_json(json.dumps(body).encode())
    assert refused.value.key == "chat.import.bad_message_field" and refused.value.values["field"] == field
    assert expected is None or refused.value.values["expected"] == expected


# ------------------------------------------------------------------------- what the page teaches
@pytest.mark.parametrize("prompt, output, num_ctx, expected", [
    (3000, 276, 4096, None),  # 80% of 4096 is 3276.8: just below
    (3000, 277, 4096, 3277),
    (1000, 24, 2048, None), (4096, None, 4096, 4096),
    (None, 10, 4096, None), (3500, 10, None, None), (3500, 10, 0, None),
])
def test_the_context_warning_starts_at_80_percent_of_num_ctx(prompt, output, num_ctx, expected):
    assert chat.CONTEXT_WARNING == 0.8
    metrics = Generation(prompt_tokens=prompt, output_tokens=output)
    assert chat.context_in_use(metrics, num_ctx) == expected
    assert chat.context_in_use(None, 4096) is None


def test_the_loaded_context_comes_from_api_ps():
    from tests.plugins.fake_ollama import PS
    assert chat.loaded_context(PS, "gemma:2b") == 4096
    assert chat.loaded_context(PS, "llava:latest") is None  # not loaded: the server has not chosen yet
    assert chat.loaded_context({"models": [{"name": "m", "context_length": "big"}]}, "m") is None
    assert chat.loaded_context({}, "gemma:2b") is None


def test_streamed_pieces_show_tokens_not_words(fake_ollama):
    """The course's own stream: «azúl» came as « az» + «úl», spaces stuck to the front."""
    conversation = chat.Conversation()
    conversation.ask("¿porqué el cielo es azúl?")
    answer = conversation.answer(OllamaClient(fake_ollama.url), chat.Settings("gemma:2b"), stream=True)
    "".join(answer.texts())
    conversation.finish(answer)
    turn = conversation.turns[-1]
    pieces = chat.streamed_pieces(turn.exchange)
    assert pieces[:7] == ["El", " cielo", " no", " es", " az", "úl", "."]
    assert "".join(pieces) == turn.content and len(pieces) == 38  # eval_count 39: the done line has no text
    assert chat.pieces_line(pieces[:7]) == "El|␣cielo|␣no|␣es|␣az|úl|."
    assert chat.pieces_line(["a\n", "b"]) == "a↵|b"
    assert len(chat.streamed_pieces(turn.exchange, limit=5)) == 5


def test_a_whole_answer_has_no_pieces_and_no_first_token(fake_ollama):
    conversation = chat.Conversation()
    conversation.ask("hola")
    conversation.answer(OllamaClient(fake_ollama.url), chat.Settings("gemma:2b"), stream=False)
    turn = conversation.turns[-1]
    assert turn.content and chat.streamed_pieces(turn.exchange) == []
    assert turn.metrics.first_token_s is None and turn.metrics.wall_s > 0


def test_provoking_the_404_gets_ollamas_real_answer(fake_ollama):
    from lib.client import ModelNotFound
    error = chat.provoke_not_found(OllamaClient(fake_ollama.url), "Sé breve.", [chat.Turn("user", "hola")])
    assert isinstance(error, ModelNotFound) and error.status == 404
    assert error.message == f"model '{chat.NOT_INSTALLED}' not found"  # server/routes.go ChatHandler's words
    body = fake_ollama.bodies("/api/chat")[-1]
    assert body["model"] == chat.NOT_INSTALLED and body["stream"] is False
    assert body["messages"] == [{"role": "system", "content": "Sé breve."}, {"role": "user", "content": "hola"}]
    # an empty chat still sends a message
    chat.provoke_not_found(OllamaClient(fake_ollama.url), "", [])
    assert fake_ollama.bodies("/api/chat")[-1]["messages"] == [{"role": "user", "content": "?"}]


def test_a_questions_images_go_in_its_message_and_survive_export():
    turns = [chat.Turn("user", "¿Qué hay aquí?", images=["iVBORw0KGgo="]), chat.Turn("assistant", "Un gato."),
             chat.Turn("user", "¿De qué color?")]
    assert chat.chat_messages("", turns) == [
        {"role": "user", "content": "¿Qué hay aquí?", "images": ["iVBORw0KGgo="]},
        {"role": "assistant", "content": "Un gato."}, {"role": "user", "content": "¿De qué color?"}]
    assert "images" not in chat.generate_fields("", turns, carry_context=True)  # the last question has none
    assert chat.generate_fields("", turns[:1], carry_context=True)["images"] == ["iVBORw0KGgo="]
    back = chat.import_json(chat.export_json(chat.Settings("llava"), turns).encode())
    assert back.turns[0].images == ["iVBORw0KGgo="] and back.turns[2].images == []
    labels = {k: k for k in ("title", "model", "options", "system", "user", "assistant", "stopped", "error",
                             "reasoning", "compares", "images")}
    assert "_images: 1_" in chat.export_markdown(chat.Settings("llava"), turns, labels)
    with pytest.raises(chat.ImportRefused) as refused:
        chat.import_json(json.dumps({"messages": [{"role": "user", "content": "x", "images": [1]}]}).encode())
    assert refused.value.values["field"] == "images"
