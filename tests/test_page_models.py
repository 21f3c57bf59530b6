"""AppTest: the Model library against the built-in server (list, details, what it can install, its
pull and delete, creating `profe`) and the fake (pull progress with several layers, pull errors,
delete, copy, create and its refusals, read-only mode, bad names, 300 installed models)."""
import json

import pytest

from lib.client import OllamaClient, OllamaError
from tests.plugins.apptest import open_app, open_http, shown, texts, values
from tests.plugins.fake_ollama import TAGS, many_models, show_body


def open_models(monkeypatch, url, lang="en", env=None):
    return open_app(monkeypatch, url, lang, page="pages/models.py", env=env)


def table(app, index=0) -> list[dict]:
    return app.dataframe[index].value.to_dict("records")


def create_preview(app) -> tuple[str, dict]:
    """The create form's live Modelfile and the `/api/create` request it shows (the request last)."""
    codes = [c.value for c in app.code]
    request = max(i for i, code in enumerate(codes) if code.startswith("{") and '"from"' in code)
    return codes[request - 1], json.loads(codes[request])


def http_panel(app, call: str):
    """The "Show the HTTP" panel of `call` ("GET /api/tags"), in either language."""
    return next(e for e in app.expander if f": {call} →" in e.label)


@pytest.mark.builtin
def test_lists_and_details_of_the_builtin_model(monkeypatch, builtin_server):
    app = open_models(monkeypatch, builtin_server.url)
    installed = table(app)
    assert sorted(row["Name"] for row in installed) == sorted(builtin_server.models)
    assert all(row["Size"] > 0.05 and len(row["ID"]) == 12 for row in installed)
    assert all(row["Parameters"] and row["Quantization"] for row in installed)
    assert ":blue-badge[text]" in texts(app) and "vision" not in texts(app).split("Installed models")[0]
    context = {m.label: m.value for m in app.metric}["Maximum context (tokens)"]
    assert int(context.replace(",", "")) >= 2048
    assert not app.error


@pytest.mark.builtin
def test_pulling_the_bundled_model_ends_in_success(monkeypatch, builtin_server):
    app = open_models(monkeypatch, builtin_server.url, "es")
    app.text_input(key="models.pull_name").set_value(builtin_server.model)
    app.button(key="models.pull").click().run()
    assert f"«{builtin_server.model}» está instalado y listo." in values(app.success)
    assert not app.error


@pytest.mark.builtin
def test_the_builtin_server_says_what_it_can_install(monkeypatch, builtin_server):
    app = open_models(monkeypatch, builtin_server.url)
    notice = " ".join(values(app.info))
    assert "it has no internet" in notice and all(name in notice for name in builtin_server.models)
    app.text_input(key="models.pull_name").set_value("llama3")
    app.button(key="models.pull").click().run()
    assert "pull model manifest: file does not exist" in [t.value for t in app.text]  # Ollama's error
    assert any('"llama3" is not one of them: the built-in server has no internet and can only install '
               f"{', '.join(builtin_server.models)}." in i for i in values(app.info))
    assert not app.success


@pytest.mark.builtin
def test_delete_then_pull_back_on_the_builtin_server(monkeypatch, bundled_models_back):
    model = bundled_models_back.model
    app = open_models(monkeypatch, bundled_models_back.url, "es")
    app.selectbox(key="models.chosen").set_value(model).run()
    app.button(key="models.delete").click().run()
    app.button(key="models.delete.yes").click().run()
    assert f"«{model}» se borró del servidor." in values(app.success)
    assert model not in [row["Nombre"] for row in table(app)]
    app.text_input(key="models.pull_name").set_value(model)
    app.button(key="models.pull").click().run()
    assert f"«{model}» está instalado y listo." in values(app.success)
    assert model in [row["Nombre"] for row in table(app)]
    bars = [bar.proto.text for bar in app.get("progress")]
    assert any(bar.startswith("pulling ") and "100%" in bar for bar in bars)
    assert not app.error


@pytest.fixture
def profe_removed(builtin_server):
    """The model the create test makes is deleted afterwards: other tests list exactly the bundled ones."""
    yield builtin_server
    try:
        OllamaClient(builtin_server.url).delete("profe")
    except OllamaError:
        pass


@pytest.mark.builtin
def test_create_profe_on_the_builtin_server(monkeypatch, profe_removed):
    app = open_models(monkeypatch, profe_removed.url, "es")
    modelfile, body = create_preview(app)
    system = "Eres un profesor paciente. Explica paso a paso"
    assert modelfile.startswith(f'FROM smollm2:135m\nSYSTEM """{system}')
    assert modelfile.endswith('"""\nPARAMETER temperature 0.2')
    assert body["model"] == "profe" and body["from"] == "smollm2:135m" and body["parameters"] == {"temperature": 0.2}
    app.button(key="models.create").click().run()
    assert "«profe» se creó: está en la lista de arriba, con sus detalles." in values(app.success)
    assert "profe:latest" in [row["Nombre"] for row in table(app)]
    assert app.selectbox(key="models.chosen").value == "profe:latest"  # its details are shown
    shown_details = {e.label: [c.value for c in e.code] for e in app.expander}
    assert shown_details["Prompt de sistema"][0].startswith(system)
    defaults = expander_table(app, "Parámetros por defecto")  # the model's, beside the server's it replaces
    assert {"Opción": "temperature", "Valor del modelo": "0,2", "Por defecto del servidor": "0,8"} in defaults
    assert "success" in [c.value for c in app.code][-1].splitlines()  # the streamed status lines
    assert not app.error


def test_pull_progress_shows_every_layer(monkeypatch, fake_ollama):
    app = open_models(monkeypatch, fake_ollama.url)
    app.text_input(key="models.pull_name").set_value("gemma:2b")
    app.button(key="models.pull").click().run()
    bars = [bar.proto.text for bar in app.get("progress")]
    assert bars[:5] == ["pulling c1864a5eb193… 100% · 1.7 GB", "pulling 097a36493f71… 100% · 8.4 KB",
                        "pulling 109037bec39c… 100% · 136 B", "pulling 22a838ceb7fb… 100% · 84 B",
                        "pulling 887433b89a90… 100% · 483 B"]
    assert bars[5].startswith("Overall 100% · 1.7 GB of 1.7 GB")
    assert "pulling manifest → verifying sha256 digest → writing manifest → removing any unused layers → success" \
        in [c.value for c in app.caption]
    assert '"gemma:2b" is installed and ready.' in values(app.success)
    assert fake_ollama.bodies("/api/pull") == [{"model": "gemma:2b", "insecure": False, "stream": True}]


def test_the_pulls_http_can_be_opened_after_it_ended(monkeypatch, fake_ollama):
    app = open_models(monkeypatch, fake_ollama.url)
    app.text_input(key="models.pull_name").set_value("gemma:2b")
    app.button(key="models.pull").click().run()
    open_http(app, "models.pull.http")  # a rerun: the outcome stays until the next pull
    assert '"gemma:2b" is installed and ready.' in values(app.success)
    request = json.loads(http_panel(app, "POST /api/pull").code[0].value)
    assert request == {"model": "gemma:2b", "insecure": False, "stream": True}
    assert len(fake_ollama.bodies("/api/pull")) == 1


def test_one_click_pull_from_the_catalog(monkeypatch, fake_ollama):
    app = open_models(monkeypatch, fake_ollama.url)
    app.selectbox(key="models.catalog_pick").set_value("moondream")
    app.button(key="models.catalog_pull").click().run()
    assert fake_ollama.bodies("/api/pull")[0]["model"] == "moondream"
    assert '"moondream" is installed and ready.' in values(app.success)


def test_unknown_model_pull_error_line(monkeypatch, fake_ollama):
    fake_ollama.stream("POST", "/api/pull", ['{"status":"pulling manifest"}',
                                             '{"error":"pull model manifest: file does not exist"}'])
    app = open_models(monkeypatch, fake_ollama.url, "es")
    app.text_input(key="models.pull_name").set_value("llama9")
    app.button(key="models.pull").click().run()
    assert any("El servidor falló a mitad de la respuesta" in shown(e.value) for e in app.error)
    assert "pull model manifest: file does not exist" in [t.value for t in app.text]
    assert not app.success


def test_server_down_during_pull(monkeypatch, fake_ollama):
    fake_ollama.stream("POST", "/api/pull", ['{"status":"pulling manifest"}'] * 3 + ["x"] * 3, close_after=3)
    app = open_models(monkeypatch, fake_ollama.url)
    app.text_input(key="models.pull_name").set_value("gemma:2b")
    app.button(key="models.pull").click().run()
    assert app.error and not app.success
    app.run()  # the page keeps working
    assert table(app)[0]["Name"] == "gemma:2b"


@pytest.mark.parametrize("name, message", [("llama2::7b", "is not a valid model name"),
                                           ("llama 2", "has spaces"), ("", "Type a model name")])
def test_bad_names_are_refused_before_sending(monkeypatch, fake_ollama, name, message):
    app = open_models(monkeypatch, fake_ollama.url)
    app.text_input(key="models.pull_name").set_value(name)
    app.button(key="models.pull").click().run()
    assert any(message in shown(e.value) for e in app.error)
    assert fake_ollama.bodies("/api/pull") == []


def test_delete_asks_first_then_deletes(monkeypatch, fake_ollama):
    app = open_models(monkeypatch, fake_ollama.url)
    app.button(key="models.delete").click().run()
    assert fake_ollama.bodies("/api/delete") == []
    assert any('Delete "gemma:2b" from the server?' in shown(w.value) for w in app.warning)  # the dialog
    app.button(key="models.delete.yes").click().run()
    assert fake_ollama.bodies("/api/delete") == [{"model": "gemma:2b"}]
    assert '"gemma:2b" was deleted from the server.' in values(app.success)
    assert not app.warning and "models.delete.yes" not in {b.key for b in app.button}  # closed
    app.run()
    assert not app.success  # said once


def test_delete_cancelled(monkeypatch, fake_ollama):
    app = open_models(monkeypatch, fake_ollama.url)
    app.button(key="models.delete").click().run()
    app.button(key="models.delete.no").click().run()
    assert fake_ollama.bodies("/api/delete") == [] and not app.warning


def test_model_deleted_by_someone_else(monkeypatch, fake_ollama):
    fake_ollama.reply("DELETE", "/api/delete", 404, {"error": "model 'gemma:2b' not found"})
    app = open_models(monkeypatch, fake_ollama.url)
    app.button(key="models.delete").click().run()
    fake_ollama.reply("GET", "/api/tags", body={"models": TAGS["models"][1:]})  # gone from the list
    app.button(key="models.delete.yes").click().run()
    assert any('The model "gemma:2b" is not installed' in shown(e.value) for e in app.error)
    assert [row["Name"] for row in table(app)] == ["llava:latest"]  # listed again at once
    app.run()
    assert not app.error


def test_details_error_shown_and_not_kept(monkeypatch, fake_ollama):
    """Listed, but gone when its details are asked: the error, and the next run asks again."""
    fake_ollama.reply("POST", "/api/show", 404, {"error": "model 'gemma:2b' not found"})
    app = open_models(monkeypatch, fake_ollama.url)
    assert any('The model "gemma:2b" is not installed' in shown(e.value) for e in app.error)
    del fake_ollama.scripts[("POST", "/api/show")]
    app.run()
    assert not app.error and ":blue-badge[text]" in texts(app)


def test_copy(monkeypatch, fake_ollama):
    app = open_models(monkeypatch, fake_ollama.url)
    app.text_input(key="models.copy_to").set_value("gemma-clase:2b")
    app.button(key="models.copy").click().run()
    assert fake_ollama.bodies("/api/copy") == [{"source": "gemma:2b", "destination": "gemma-clase:2b"}]
    assert '"gemma:2b" copied as "gemma-clase:2b".' in values(app.success)
    app.text_input(key="models.copy_to").set_value("bad name")
    app.button(key="models.copy").click().run()
    assert any("has spaces" in shown(e.value) for e in app.error) and len(fake_ollama.bodies("/api/copy")) == 1


def test_read_only_mode_hides_and_refuses(monkeypatch, fake_ollama):
    app = open_models(monkeypatch, fake_ollama.url, env={"COMPANION_READ_ONLY": "1"})
    assert any("read-only" in i.value for i in app.info)
    keys = {b.key for b in app.button}
    assert not keys & {"models.pull", "models.delete", "models.copy", "models.catalog_pull", "models.create"}
    assert "Create a model (`ollama create`)" not in [h.value for h in app.header]
    assert table(app)[0]["Name"] == "gemma:2b"  # reading still works


def test_old_server_without_capabilities(monkeypatch, fake_ollama):
    old = show_body("gemma:2b")
    del old["capabilities"]
    fake_ollama.reply("POST", "/api/show", body=old)
    app = open_models(monkeypatch, fake_ollama.url)
    assert any("does not report the model's capabilities" in c.value for c in app.caption)
    assert not app.error


def test_catalog_filters_and_installed_marks(monkeypatch, fake_ollama):
    app = open_models(monkeypatch, fake_ollama.url, "es")
    catalog = {row["Etiqueta"]: row for row in table(app, -1)}
    assert catalog["llava"]["Instalado"] is True and catalog["gemma:2b"]["Instalado"] is True
    assert catalog["mistral:7b"]["Instalado"] is False
    assert [tag for tag, row in catalog.items() if row["Servidor integrado"]] == ["smollm2:135m", "gemma3:270m-base"]
    assert catalog["gemma3:270m-base"]["Tamaño"] == 0.253 and catalog["gemma3:270m-base"]["Instalado"] is False
    assert not any("servidor integrado" in i for i in values(app.info))  # the fake is an Ollama
    assert catalog["llava"]["Comando"] == "ollama run llava"
    app.selectbox(key="models.purpose").set_value("vision").run()
    app.number_input(key="models.fits_in").set_value(4).run()
    assert sorted(row["Etiqueta"] for row in table(app, -1)) == ["llava-phi3", "moondream"]


def test_server_down(monkeypatch, closed_port):
    app = open_models(monkeypatch, closed_port, "es")
    assert any("Conexión rechazada" in shown(e.value) for e in app.error)
    assert app.header[-1].value == "Catálogo del curso"  # the catalog still helps


def test_server_erroring(monkeypatch, fake_ollama):
    fake_ollama.reply("GET", "/api/tags", 500, {"error": "database is locked"})
    app = open_models(monkeypatch, fake_ollama.url)
    assert any("HTTP error 500" in shown(e.value) for e in app.error)


def test_300_models_details_asked_once_for_every_session(monkeypatch, fake_ollama):
    fake_ollama.reply("GET", "/api/tags", body=many_models(300))
    fake_ollama.reply("POST", "/api/show", body=show_body("gemma:2b"))
    app = open_models(monkeypatch, fake_ollama.url)
    assert len(table(app)) == 300 and app.selectbox(key="models.chosen").value == "model-0000:latest"
    assert fake_ollama.bodies("/api/show") == [{"model": "model-0000:latest"}]
    app.run()
    second = open_models(monkeypatch, fake_ollama.url, "es")  # another student
    assert ":blue-badge[texto]" in texts(second)
    assert len(fake_ollama.bodies("/api/show")) == 1
    app.selectbox(key="models.chosen").set_value("model-0123:latest").run()
    assert fake_ollama.bodies("/api/show")[1:] == [{"model": "model-0123:latest"}]


@pytest.mark.parametrize("lang, count, more", [("en", 300, "… and 295 more models"),
                                                ("es", 1300, "… y 1295 modelos más")])
def test_tags_panel_short_on_screen(monkeypatch, fake_ollama, lang, count, more):
    fake_ollama.reply("GET", "/api/tags", body=many_models(count))
    app = open_models(monkeypatch, fake_ollama.url, lang)
    assert not http_panel(app, "GET /api/tags").children  # closed: nothing of the list is sent
    open_http(app, "models.tags.http")
    shown = [c.value for c in http_panel(app, "GET /api/tags").code]
    models = json.loads(next(text for text in shown if '"models"' in text))["models"]
    assert [m["name"] for m in models[:5]] == [f"model-{n:04d}:latest" for n in range(5)]
    assert models[5:] == [more]
    assert sum(len(text) for text in shown) < 5_000


CREATED = ['{"status":"using existing layer sha256:b179c9523d0e"}', '{"status":"writing manifest"}',
           '{"status":"success"}']


def test_create_sends_what_it_shows(monkeypatch, fake_ollama):
    fake_ollama.stream("POST", "/api/create", CREATED)
    app = open_models(monkeypatch, fake_ollama.url)
    assert app.selectbox(key="models.setting.create_from").value == "gemma:2b"  # no smollm2 here
    app.text_input(key="models.setting.create_name").set_value("gemma:2b")
    app.number_input(key="models.create.setting.num_ctx").set_value(4096).run()
    assert any('"gemma:2b" already exists on the server: creating it again replaces it' in w for w in values(app.warning))
    modelfile, shown_request = create_preview(app)
    assert modelfile.startswith("FROM gemma:2b\nSYSTEM") and modelfile.endswith(
        "\nPARAMETER temperature 0.2\nPARAMETER num_ctx 4096")
    app.button(key="models.create").click().run()
    assert fake_ollama.bodies("/api/create") == [shown_request]
    assert shown_request["parameters"] == {"temperature": 0.2, "num_ctx": 4096}
    assert '"gemma:2b" was created: it is in the list above, with its details.' in values(app.success)
    open_http(app, "models.create.http")  # a rerun: the outcome stays until the next creation
    assert '"gemma:2b" was created: it is in the list above, with its details.' in values(app.success)
    assert len(fake_ollama.bodies("/api/create")) == 1


@pytest.mark.parametrize("name, advanced, message", [
    ("mi profe", "", 'has spaces'), ("profe::1", "", "is not a valid model name"),
    ("profe", '{"temperature": "low"}', '"temperature" must be of type float')])
def test_create_refuses_bad_input_before_sending(monkeypatch, fake_ollama, name, advanced, message):
    app = open_models(monkeypatch, fake_ollama.url)
    app.text_input(key="models.setting.create_name").set_value(name)
    app.text_area(key="models.create.setting.advanced").set_value(advanced).run()
    assert any(message in w for w in values(app.warning))
    assert app.button(key="models.create").disabled
    assert not [c for c in app.code if c.value.startswith("{") and '"from"' in c.value]  # no request shown
    assert fake_ollama.bodies("/api/create") == []


def test_create_error_from_the_server(monkeypatch, fake_ollama):
    fake_ollama.reply("POST", "/api/create", 400, {"error": "neither 'from' or 'files' was specified"})
    app = open_models(monkeypatch, fake_ollama.url, "es")
    app.button(key="models.create").click().run()
    assert any("El servidor respondió con el error HTTP 400" in shown(e.value) for e in app.error)
    assert "neither 'from' or 'files' was specified" in [t.value for t in app.text]
    assert not app.success and len(fake_ollama.bodies("/api/create")) == 1


def test_catalog_capability_filter_and_historical_models(monkeypatch, fake_ollama):
    app = open_models(monkeypatch, fake_ollama.url, "es")
    catalog = {row["Etiqueta"]: row for row in table(app, -1)}
    assert catalog["gemma:2b"]["Usar hoy en su lugar"] == "gemma3:1b"  # historical, with today's model
    assert catalog["gemma3:1b"]["Usar hoy en su lugar"] == ""
    assert list(catalog["gpt-oss:20b"]["Capacidades"]) == ["razonamiento (think)", "herramientas"]
    app.multiselect(key="models.capabilities").set_value(["embedding"]).run()
    assert sorted(row["Etiqueta"] for row in table(app, -1)) == ["all-minilm", "embeddinggemma", "nomic-embed-text"]
    app.multiselect(key="models.capabilities").set_value(["thinking", "tools"]).run()
    app.number_input(key="models.fits_in").set_value(16).run()
    assert [row["Etiqueta"] for row in table(app, -1)] == ["qwen3:0.6b", "qwen3:1.7b", "qwen3:4b", "gpt-oss:20b"]
    assert any(c.value == "4 de 44 modelos." for c in app.caption)
    assert not app.exception


# ------------------------------------------------------------------ teaching: what a model is and costs
GEMMA_2B_SHOW = {**show_body("gemma:2b"),
                 "parameters": 'stop                           "<start_of_turn>"\ntemperature                    0.6',
                 "model_info": {"general.architecture": "gemma", "gemma.block_count": 18,
                                "gemma.attention.head_count": 8, "gemma.attention.head_count_kv": 1,
                                "gemma.attention.key_length": 256, "gemma.attention.value_length": 256,
                                "gemma.embedding_length": 2048, "gemma.context_length": 8192}}


def metrics(app) -> dict:
    return {m.label: m.value for m in app.metric}


def expander_table(app, label: str) -> list[dict]:
    return next(e for e in app.expander if e.label == label).dataframe[0].value.to_dict("records")


def test_download_memory_for_the_context_and_maximum_context_side_by_side(monkeypatch, fake_ollama):
    fake_ollama.reply("POST", "/api/show", body=GEMMA_2B_SHOW)
    app = open_models(monkeypatch, fake_ollama.url, "es")
    shown = metrics(app)
    # 1,678,456,656 bytes of weights + 18 layers × 4096 tokens × 512 values × 2 bytes of KV cache
    assert (shown["Descarga"], shown["Memoria con num_ctx 4096"], shown["Contexto máximo (tokens)"]) == (
        "1,7 GB", "1,8 GB", "8192")
    app.number_input(key="models.setting.num_ctx").set_value(262144).run()  # a big GPU's default
    assert metrics(app)["Memoria con num_ctx 262\u202f144"] == "6,5 GB"
    app.number_input(key="models.setting.num_parallel").set_value(2).run()
    assert metrics(app)["Memoria con num_ctx 262\u202f144"] == "11,3 GB"  # each parallel request its own cache
    assert not app.warning and not app.error  # the course's own gemma:2b (b50d6c999e59)


def test_the_models_defaults_beside_the_servers_and_the_names_anatomy(monkeypatch, fake_ollama):
    fake_ollama.reply("POST", "/api/show", body=GEMMA_2B_SHOW)
    app = open_models(monkeypatch, fake_ollama.url)
    assert expander_table(app, "Default parameters") == [
        {"Option": "stop", "Model's value": '["<start_of_turn>"]', "Server's default": "—"},
        {"Option": "temperature", "Model's value": "0.6", "Server's default": "0.8"}]
    anatomy = {row["Part"]: row["In this name"] for row in expander_table(app, "Anatomy of the name")}
    assert anatomy == {"Namespace": "library", "Model": "gemma", "Tag": "2b", "Size": "2b", "Variant": "—",
                       "Quantization": "Q4_0 (from /api/show: the tag does not say it)"}
    app.selectbox(key="models.chosen").set_value("llava:latest").run()
    anatomy = {row["Part"]: row["In this name"] for row in expander_table(app, "Anatomy of the name")}
    assert anatomy["Tag"] == "latest"  # /api/tags lists `llava` as `llava:latest`


def test_a_gemma_2b_that_is_not_the_courses(monkeypatch, fake_ollama):
    moved = json.loads(json.dumps(TAGS))
    moved["models"][0]["digest"] = "030ee63283b5" + "1" * 52
    fake_ollama.reply("GET", "/api/tags", body=moved)
    app = open_models(monkeypatch, fake_ollama.url, "es")
    warning = " ".join(values(app.warning))
    assert "no es el del curso: su ID es `030ee63283b5` y el del curso `b50d6c999e59`" in warning
    assert any("ID `030ee63283b5`: los primeros 12 caracteres del digest" in c.value for c in app.caption)
    assert metrics(app)["Memoria con num_ctx 4096"] == "—"  # this model_info has no layer sizes


def test_the_courses_five_layers(monkeypatch, fake_ollama):
    app = open_models(monkeypatch, fake_ollama.url, "es")
    layers = expander_table(app, "Lo que descarga `ollama pull`: las 5 capas del gemma:2b del curso")
    assert [(row["Digest"], row["Tamaño"]) for row in layers] == [
        ("c1864a5eb193", "1.7 GB"), ("097a36493f71", "8.4 KB"), ("109037bec39c", "136 B"),
        ("22a838ceb7fb", "84 B"), ("887433b89a90", "483 B")]  # as the course's terminal printed them
    assert [row["Qué es"].split(" (")[0] for row in layers] == [
        "los pesos del modelo", "la licencia", "la plantilla del prompt", "los parámetros por defecto",
        "la configuración: formato, familia, tamaño y las capas que forman el modelo"]


def test_catalog_licences_decimals_and_the_uncensored_caveat(monkeypatch, fake_ollama):
    app = open_models(monkeypatch, fake_ollama.url, "es")
    catalog = {row["Etiqueta"]: row for row in table(app, -1)}
    assert catalog["qwen2.5vl:3b"]["Licencia"] == "Qwen Research License (non-commercial)"
    assert catalog["qwen2.5:1.5b"]["Parámetros"] == "1,5B" and catalog["gemma:2b"]["Tamaño"] == 1.7
    assert list(catalog["qwen3:0.6b"]["Capacidades"]) == ["razonamiento (think)", "herramientas"]
    assert not app.warning
    app.selectbox(key="models.catalog_pick").set_value("llama2-uncensored").run()
    assert "«llama2-uncensored» no tiene ajuste de seguridad" in " ".join(values(app.warning))
    english = open_models(monkeypatch, fake_ollama.url)
    assert {row["Tag"] for row in table(english, -1)} >= {"qwen3:4b", "embeddinggemma", "smollm2:1.7b"}


def test_teaching_parts_without_a_server(monkeypatch, closed_port):
    app = open_models(monkeypatch, closed_port, "es")
    assert any(e.label.startswith("Lo que descarga `ollama pull`") for e in app.expander)
    assert any(c.value.startswith("Cada modelo tiene su licencia") for c in app.caption)
    assert not app.metric  # no model to show


def test_show_erroring_keeps_the_list_and_the_catalog(monkeypatch, fake_ollama):
    fake_ollama.reply("POST", "/api/show", 500, {"error": "unable to load model"})
    app = open_models(monkeypatch, fake_ollama.url)
    assert any("HTTP error 500" in shown(e.value) for e in app.error)
    assert table(app)[0]["Name"] == "gemma:2b" and not app.metric
    assert "qwen3:0.6b" in {row["Tag"] for row in table(app, -1)}


def test_how_ollama_reads_the_name_being_typed(monkeypatch, fake_ollama):
    app = open_models(monkeypatch, fake_ollama.url, "es")
    app.text_input(key="models.pull_name").set_value("llava").run()
    assert ("Ollama lo lee como `registry.ollama.ai/library/llava:latest`. Sin etiqueta es `latest`: la variante "
            "que la biblioteca eligió por defecto, no necesariamente la más nueva.") in [c.value for c in app.caption]
    app.text_input(key="models.pull_name").set_value("profe/tutor:v1").run()
    assert "Ollama lo lee como `registry.ollama.ai/profe/tutor:v1`." in [c.value for c in app.caption]
    app.text_input(key="models.pull_name").set_value("llama2::7b").run()
    assert not any(c.value.startswith("Ollama lo lee") for c in app.caption)  # invalid: refused on Pull
    assert not fake_ollama.bodies("/api/pull")
