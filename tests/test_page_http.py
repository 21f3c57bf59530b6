""""Show the HTTP" on a page: the Terminal tab and the official `ollama` client beside `requests`."""
from tests.plugins.apptest import open_app, open_http, texts


def chat_once(monkeypatch, url, lang="en"):
    app = open_app(monkeypatch, url, lang, page="pages/chat.py")
    app.number_input(key="chat.setting.seed").set_value(42)
    app.chat_input[0].set_value("hola").run()
    assert not app.exception, [e.value for e in app.exception]
    return open_http(app, "chat.http.1")


def test_the_panel_shows_the_terminal_session_and_the_ollama_client(monkeypatch, fake_ollama):
    app = chat_once(monkeypatch, fake_ollama.url)
    assert [tab.label for tab in app.tabs][:6] == ["JSON request", "curl", "Terminal", "Python", "Response",
                                                  "Fields explained"]
    codes = [code.value for code in app.code]
    assert f"OLLAMA_HOST={fake_ollama.url} ollama run gemma:2b\n>>> /set parameter seed 42\n>>> hola\n>>> /bye" in codes
    client = next(code for code in codes if code.startswith("from ollama import Client"))
    assert f'client = Client(host="{fake_ollama.url}")' in client and "answer = client.chat(" in client
    assert "    stream=True," in client and '"seed": 42' in client
    assert any("requests.post(url, json=json_data)" in code for code in codes)  # the lesson's way
    page = texts(app)
    assert "The interactive session: type each line after the `>>> ` prompt." in page
    assert "With the official client (`pip install ollama`)" in page
    commands = app.table[0].value  # the session's commands, from the Terminal tab
    assert {"/?", "/set parameter seed 123", "/show parameters", "/set nothink", "/bye", "Ctrl + d"} <= set(
        commands.iloc[:, 0])


def test_the_panel_in_spanish(monkeypatch, fake_ollama):
    app = chat_once(monkeypatch, fake_ollama.url, "es")
    assert "Terminal" in [tab.label for tab in app.tabs]
    page = texts(app)
    assert "La sesión interactiva: escribe cada línea después del indicador `>>> `." in page
    assert "Comandos de la sesión (/?)" in [p.proto.popover.label for p in app.get("popover")]
    assert "Termina la sesión, como /bye." in set(app.table[0].value.iloc[:, 1])
