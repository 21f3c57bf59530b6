"""AppTest: app.py's frame and the Server page with the server up, down and erroring, in both languages."""
import pytest

from tests.plugins.apptest import metrics, open_app, shown, texts, values


@pytest.mark.parametrize("lang, reachable, loaded", [("en", "Yes", "Models loaded in memory"),
                                                     ("es", "Sí", "Modelos cargados en memoria")])
def test_server_up(monkeypatch, fake_ollama, lang, reachable, loaded):
    app = open_app(monkeypatch, fake_ollama.url, lang)
    numbers = metrics(app)
    assert numbers[("Reachable" if lang == "en" else "Responde")] == reachable
    assert numbers[("Version" if lang == "en" else "Versión")] == "0.33.0"
    assert numbers[("Latency" if lang == "en" else "Latencia")].endswith(" ms")
    assert not app.error
    page = texts(app)
    assert loaded in page and "`gemma:2b`" in page and "60%/40% CPU/GPU" in page
    assert "Ollama 0.33.0 · " in str(values(app.sidebar.markdown))
    assert [path for _, path, _ in fake_ollama.requests].count("/api/version") == 1  # sidebar and page share it
    labels = [e.label for e in app.expander]
    assert any(label.startswith(("Show the HTTP: GET /api/ps → 200", "Ver el HTTP: GET /api/ps → 200"))
               for label in labels)


@pytest.mark.parametrize("lang, title, advice, badge", [
    ("en", "Connection refused at", "ollama serve", "Not answering"),
    ("es", "Conexión rechazada en", "ollama serve", "Sin respuesta"),
])
def test_server_down_shows_the_diagnosis_and_the_guide(monkeypatch, closed_port, lang, title, advice, badge):
    app = open_app(monkeypatch, closed_port, lang)
    errors = [e.value for e in app.error]
    assert any(title in e and advice in e for e in errors)
    assert any("ollama serve" in c.value for c in app.code)
    assert badge in str(values(app.sidebar.markdown))
    assert app.header[0].value == ("Install and start Ollama" if lang == "en" else "Instalar y arrancar Ollama")
    assert "curl -fsSL https://ollama.com/install.sh | sh" in [c.value for c in app.code]
    assert len(app.tabs) >= 4


def test_server_erroring_on_ps(monkeypatch, fake_ollama):
    fake_ollama.reply("GET", "/api/ps", 500, {"error": "runner crashed"})
    app = open_app(monkeypatch, fake_ollama.url)
    assert metrics(app)["Reachable"] == "Yes"
    assert any("HTTP error 500" in e.value for e in app.error)
    assert "runner crashed" in [t.value for t in app.text]


def test_wrong_port_is_not_ollama(monkeypatch, fake_ollama):
    fake_ollama.raw("GET", "/", b"<html>nginx</html>", "text/html")
    fake_ollama.raw("GET", "/api/version", b"<html>404 Not Found</html>", "text/html", status=404)
    app = open_app(monkeypatch, fake_ollama.url, "es")
    assert any("no es Ollama" in e.value for e in app.error)


def test_slow_server_is_a_timeout_not_a_hang(monkeypatch, fake_ollama):
    from lib import client as client_module
    monkeypatch.setattr(client_module, "STATUS_READ_TIMEOUT", 0.5)
    fake_ollama.hang("GET", "/api/version", seconds=3)
    app = open_app(monkeypatch, fake_ollama.url)
    assert any("stopped answering" in e.value for e in app.error)


def test_builtin_server_badge(monkeypatch, fake_ollama):
    fake_ollama.reply("GET", "/api/version", body={"version": "0.33.0", "builtin": {"engine": "llama.cpp"}})
    app = open_app(monkeypatch, fake_ollama.url)
    assert "Built-in server (smollm2:135m and gemma3:270m-base, llama.cpp)" in str(values(app.sidebar.markdown))
    assert metrics(app)["Version"] == "built-in"
    assert any("not Ollama" in i.value for i in app.info)


def test_unload_button_sends_keep_alive_zero(monkeypatch, fake_ollama):
    app = open_app(monkeypatch, fake_ollama.url)
    app.button(key="unload.gemma:2b").click().run()
    assert not app.exception
    assert {"model": "gemma:2b", "keep_alive": 0} in fake_ollama.bodies("/api/generate")


def test_guide_check_buttons(monkeypatch, fake_ollama):
    app = open_app(monkeypatch, fake_ollama.url)
    app.button(key="check.serve.linux").click().run()
    assert any(f"Ollama answers at {fake_ollama.url} (version 0.33.0)" in shown(s.value) for s in app.success)
    app.button(key="check.models.linux").click().run()
    assert any("2 models installed: gemma:2b, llava:latest" in shown(s.value) for s in app.success)


def test_sidebar_refuses_bad_hosts_and_keeps_the_current_one(monkeypatch, fake_ollama):
    app = open_app(monkeypatch, fake_ollama.url)
    app.sidebar.text_input[0].set_value("localhost:abc").run()
    assert any("The port in \"localhost:abc\" is not valid" in shown(e.value) for e in app.sidebar.error)
    assert f"Address: `{fake_ollama.url}`" in texts(app)
    app.sidebar.text_input[0].set_value("ftp://x").run()
    assert any("is not an HTTP address" in shown(e.value) for e in app.sidebar.error)


def test_sidebar_changes_the_server_for_the_session(monkeypatch, fake_ollama, closed_port):
    app = open_app(monkeypatch, closed_port)
    assert metrics(app)["Reachable"] == "No"
    app.sidebar.text_input[0].set_value(fake_ollama.url.removeprefix("http://")).run()
    assert metrics(app)["Reachable"] == "Yes" and f"Address: `{fake_ollama.url}`" in texts(app)
    assert not app.sidebar.error


def test_allow_list_refuses_other_servers(monkeypatch, fake_ollama):
    app = open_app(monkeypatch, fake_ollama.url, "es",
                   env={"COMPANION_ALLOWED_HOSTS": fake_ollama.url})
    app.sidebar.text_input[0].set_value("169.254.169.254:80").run()
    assert any("no puede usar" in shown(e.value) for e in app.sidebar.error)
    assert not [r for r in fake_ollama.requests if "169.254" in r[1]]
    assert f"Dirección: `{fake_ollama.url}`" in texts(app)


def test_language_switch_updates_page_and_url(monkeypatch, fake_ollama):
    app = open_app(monkeypatch, fake_ollama.url, "es")
    assert app.title[0].value == "Servidor Ollama"
    app.sidebar.segmented_control[0].set_value("en").run() if hasattr(app.sidebar, "segmented_control") else \
        app.button_group[0].set_value("en").run()
    assert app.title[0].value == "Ollama server"
    assert app.query_params["lang"] == ["en"] or app.query_params["lang"] == "en"


def test_start_up_log_is_explained(monkeypatch, fake_ollama):
    app = open_app(monkeypatch, fake_ollama.url)
    captions = values(app.caption)
    assert any(c.startswith("No GPU detected") for c in captions)
    assert any("listens on 127.0.0.1:11434 and is version 0.1.32" in c for c in captions)
    assert any(c.startswith("The engine variants (runners)") for c in captions)
    assert any(c.startswith("Generation: 22 tokens in 3389.28 ms = 6.49 tokens/s") and "eval_count" in c
               for c in captions)
    assert not any(area.value.startswith("```") for area in app.text_area)


@pytest.mark.parametrize("lang, example, cpu, ctx, speed", [
    ("en", "Today (Ollama 0.33, CPU)", "No usable GPU: the only inference device is the CPU",
     "the default num_ctx will be 4096 tokens", "97 tokens in 3958.40 ms = 24.50 tokens/s"),
    ("es", "Hoy (Ollama 0.33, CPU)", "No hay GPU utilizable: el único dispositivo de inferencia es la CPU",
     "el num_ctx por defecto será de 4096 tokens", "97 tokens en 3958,40 ms = 24,50 tokens/s"),
])
def test_todays_log_example(monkeypatch, fake_ollama, lang, example, cpu, ctx, speed):
    app = open_app(monkeypatch, fake_ollama.url, lang)
    app.radio[0].set_value(example).run()
    assert 'msg="inference compute" id=cpu library=cpu' in app.text_area[0].value
    captions = values(app.caption)
    assert any(c.startswith(cpu) for c in captions) and any(ctx in c for c in captions)
    assert any("0 de 27" in c or "0 of 27" in c for c in captions) and any(speed in c for c in captions)


def test_todays_gpu_log_example_fills_the_courses_section_2_2(monkeypatch, fake_ollama):
    app = open_app(monkeypatch, fake_ollama.url)
    app.radio[0].set_value("Today (Ollama 0.33, NVIDIA GPU)").run()
    captions = values(app.caption)
    assert any(c.startswith("Ollama found a GPU (CUDA)") for c in captions)
    assert any(c.startswith("All 27 layers on the GPU") for c in captions)
    assert any("97 tokens in 731.62 ms = 132.58 tokens/s" in c for c in captions)


def test_loaded_models_explain_the_ps_columns_and_the_cli_twin(monkeypatch, fake_ollama):
    app = open_app(monkeypatch, fake_ollama.url, "es")
    page = texts(app)
    assert "`PROCESSOR`" in page and "`CONTEXT`" in page and "`UNTIL`" in page
    assert "contexto de " in page and " tokens" in page
    assert any("**PROCESSOR**" in c and "`ollama stop <modelo>`" in c for c in values(app.caption))
    unload = app.button(key="unload.gemma:2b")
    assert unload.label == "Sacar de memoria" and "ollama stop gemma:2b" in shown(unload.help)


def test_loaded_models_help_is_not_shown_when_ps_fails(monkeypatch, fake_ollama):
    fake_ollama.reply("GET", "/api/ps", 500, {"error": "runner crashed"})
    app = open_app(monkeypatch, fake_ollama.url)
    assert not any("**PROCESSOR**" in c for c in values(app.caption))


@pytest.mark.parametrize("up", [True, False])
def test_guide_security_env_and_course_claims_with_the_server_up_or_down(monkeypatch, fake_ollama, closed_port, up):
    app = open_app(monkeypatch, fake_ollama.url if up else closed_port)
    code = [c.value for c in app.code]
    assert "docker rm -f ollama" in "\n".join(code) and "sudo systemctl stop ollama" in code
    assert "cat ~/.ollama/logs/server.log" in code and "docker logs -f ollama" in code
    warnings = [shown(w.value) for w in app.warning]
    assert sum("no authentication" in w and 'OLLAMA_ORIGINS="*"' in w for w in warnings) == 4  # one per tab
    page = texts(app)
    assert "| `OLLAMA_MAX_QUEUE` | 512 |" in page and "| `OLLAMA_NUM_PARALLEL` | 1 |" in page
    assert "OLLAMA_NUM_PARALLEL × the KV cache" in page
    assert any("OLLAMA_VERSION=0.33.0" in i.value for i in app.info)
    assert "There is no such variable" in page and "json=json_data" in page and "500 credits" in page


def test_shared_check_without_an_origin_claims_none(monkeypatch, fake_ollama):
    app = open_app(monkeypatch, fake_ollama.url)
    app.button(key="FormSubmitter:share.linux-Check").click().run()
    ok = [shown(s.value) for s in app.success]
    assert any("no origin was checked" in s and "from the machine running this dashboard" in s for s in ok)
    assert not any("accepts" in s for s in ok)


@pytest.mark.parametrize("page, en_title, es_title", [
    ("pages/models.py", "Model library", "Biblioteca de modelos"),
    ("pages/chat.py", "Chat", "Chat"),
    ("pages/vision.py", "Image description", "Descripción de imágenes"),
    ("pages/lab.py", "Options & seed lab", "Laboratorio de opciones y semillas"),
])
def test_every_page_opens_in_both_languages(monkeypatch, closed_port, page, en_title, es_title):
    for lang, title in (("en", en_title), ("es", es_title)):
        app = open_app(monkeypatch, closed_port, lang, page=page)
        assert app.title[0].value == title
        assert app.caption[0].value  # the one-line summary


def test_an_allowed_server_that_redirects_cannot_take_the_class_elsewhere(monkeypatch, fake_ollama, recorder):
    """COMPANION_ALLOWED_HOSTS holds on every hop: the redirect is named, never followed."""
    for method, path in (("GET", "/"), ("GET", "/api/version"), ("GET", "/api/tags"), ("GET", "/api/ps"),
                         ("POST", "/api/chat")):
        fake_ollama.redirect(method, path, recorder.url + path, 307)
    app = open_app(monkeypatch, fake_ollama.url, env={"COMPANION_ALLOWED_HOSTS": fake_ollama.url})
    assert f"redirects elsewhere, to {recorder.url}/api/version" in texts(app)
    app.switch_page("pages/chat.py").run()
    assert f"redirects elsewhere, to {recorder.url}/api/tags" in texts(app)
    assert recorder.requests == []
