"""AppTest: the Image description page against the fake Ollama (the course's llava answer), the
built-in text-only server, a server down, failures while describing, bad images, both languages."""
import base64
import io
import json

import pytest
from PIL import Image

from lib import vision
from lib.client import OllamaClient
from tests.plugins.apptest import metrics, open_app, open_http, texts, values
from tests.plugins.fake_ollama import fixture_lines, many_models, show_body

PAGE = "pages/vision.py"
LLAVA_START = "The image shows a playful, black and white line drawing"


def vision_page(monkeypatch, url: str, lang: str = "en"):
    return open_app(monkeypatch, url, lang, page=PAGE)


def describe(app):
    app.button(key="vision.describe").click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def markdown(app) -> str:
    return "\n".join(m.value for m in app.markdown)


def errors(app) -> str:
    return "\n".join(values(app.error))


def choose(app, source: str):
    app.button_group(key="vision.setting.source").set_value(source).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def upload(app, name: str, data: bytes, mime: str = "image/jpeg"):
    choose(app, "upload")
    app.file_uploader(key="vision.upload.w").set_value((name, data, mime)).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def jpeg(size=(1600, 1200), orientation: int | None = None) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def http_labels(app) -> list[str]:
    return [e.label for e in app.expander if e.label.startswith(("Show the HTTP", "Ver el HTTP"))]


@pytest.mark.parametrize("lang, prompt, labels", [
    ("en", "Describe the image.", ("Received", "Sent", "Prompt evaluation", "What Pillow changed")),
    ("es", "Describe la imagen.", ("Recibida", "Enviada", "Evaluación del prompt", "Qué ha cambiado Pillow")),
])
def test_course_sample_described_by_llava(monkeypatch, fake_ollama, lang, prompt, labels):
    app = vision_page(monkeypatch, fake_ollama.url, lang)
    received, sent, prompt_eval, changed = labels
    local = (lambda text: text.replace(".", ",")) if lang == "es" else str  # decimal comma in Spanish
    assert metrics(app)[received] == local("3.6 KB") and metrics(app)[sent] == local("3.7 KB")
    assert f"**{changed}**" in markdown(app)
    assert app.text_input(key="vision.setting.prompt").value == prompt
    assert app.selectbox(key="vision.setting.model").options == ["llava:latest"]  # gemma:2b cannot see
    describe(app)
    assert LLAVA_START in markdown(app)
    body = fake_ollama.bodies("/api/generate")[-1]
    assert body["model"] == "llava:latest" and body["prompt"] == prompt and body["stream"] is True
    image = body["images"][0]
    assert not image.startswith("data:") and image.startswith("iVBORw0KGgo")
    assert Image.open(io.BytesIO(base64.b64decode(image))).size == (109, 102)
    values = metrics(app)
    assert values[prompt_eval] == local("55.84 s") and values["Speed" if lang == "en" else "Velocidad"] == local("8.3 tokens/s")
    assert any(label.endswith("POST /api/generate → 200") for label in http_labels(app))
    # "Show the HTTP" shortens the image on screen
    open_http(app, "vision.http")
    request_json = next(c.value for c in app.code if '"images"' in c.value and "$(base64" not in c.value)
    shortened = "…[4,920 characters]" if lang == "en" else "…[4920 caracteres]"  # in the page's language
    assert shortened in request_json and image not in request_json


def test_a_second_session_knows_300_models_without_asking_again(monkeypatch, fake_ollama):
    fake_ollama.reply("GET", "/api/tags", body=many_models(300, version="vision"))
    fake_ollama.reply("POST", "/api/show", body=show_body("llava"))
    first = vision_page(monkeypatch, fake_ollama.url)
    assert len(first.selectbox(key="vision.setting.model").options) == 300
    asked = len(fake_ollama.bodies("/api/show"))
    assert asked == 300
    second = vision_page(monkeypatch, fake_ollama.url, "es")  # another student, another session
    assert second.selectbox(key="vision.setting.model").options[:2] == ["model-0000:latest", "model-0001:latest"]
    assert len(second.selectbox(key="vision.setting.model").options) == 300
    assert len(fake_ollama.bodies("/api/show")) == asked  # capabilities known at once
    second.button(key="vision.refresh").click().run()  # lists the models again, still asks no /api/show
    assert len(fake_ollama.bodies("/api/show")) == asked


def test_a_model_deleted_meanwhile_is_judged_by_its_name(monkeypatch, fake_ollama):
    tags = {"models": [{"name": "moondream:latest", "digest": "gone"}, {"name": "custom:latest", "digest": "gone"}]}
    fake_ollama.reply("GET", "/api/tags", body=tags)
    fake_ollama.reply("POST", "/api/show", 404, {"error": "model not found"})
    app = vision_page(monkeypatch, fake_ollama.url)
    assert app.selectbox(key="vision.setting.model").options == ["moondream:latest"]
    assert not app.error and len(fake_ollama.bodies("/api/show")) == 2
    app.text_input(key="vision.setting.prompt").set_value("What is this?").run()
    assert len(fake_ollama.bodies("/api/show")) == 2  # not asked again on every rerun
    app.button(key="vision.refresh").click().run()
    assert len(fake_ollama.bodies("/api/show")) == 4  # "Check the models again" does
    assert app.selectbox(key="vision.setting.model").options == ["moondream:latest"]


def test_results_survive_a_visit_to_another_page(monkeypatch, fake_ollama):
    app = vision_page(monkeypatch, fake_ollama.url)
    upload(app, "foto.jpg", jpeg())
    describe(app)
    app.switch_page("pages/server.py").run()
    assert LLAVA_START not in markdown(app)
    app.switch_page(PAGE).run()
    assert LLAVA_START in markdown(app)
    assert app.button_group(key="vision.setting.source").value == "upload"
    assert metrics(app)["Received"] == f"{len(jpeg()) / 1000:.1f} KB"  # the uploaded photo is still there
    assert len(fake_ollama.bodies("/api/generate")) == 1  # coming back does not describe again


def test_uploaded_photo_is_rotated_and_downscaled(monkeypatch, fake_ollama):
    app = upload(vision_page(monkeypatch, fake_ollama.url), "foto.jpg", jpeg((2000, 1000), orientation=6))
    page = markdown(app)
    assert "Downscaled from 2000×1000 to 512×1024 (longest side 1024 px)." in page
    assert "Rotated as the camera's EXIF orientation says (6)" in page
    assert "Encoded as JPEG (quality 85)" in page
    captions = [caption for image in app.get("image") for caption in image.captions]
    assert captions[0].startswith("JPEG · 2000×1000 px · RGB · ")  # as stored: sideways
    assert captions[1].startswith("JPEG · 512×1024 px · RGB · ")
    describe(app)
    sent = Image.open(io.BytesIO(base64.b64decode(fake_ollama.bodies("/api/generate")[-1]["images"][0])))
    assert (sent.format, sent.size) == ("JPEG", (512, 1024))


@pytest.mark.parametrize("name, data, message", [
    ("notes.png", b"this is not an image", "This is not an image this page can read. Accepted: png, jpg"),
    ("cut.jpg", jpeg()[:3000], "The image is damaged or cut short"),
])
def test_bad_upload_gives_a_clear_message(monkeypatch, fake_ollama, name, data, message):
    app = upload(vision_page(monkeypatch, fake_ollama.url), name, data)
    assert "This image cannot be sent" in errors(app) and message in errors(app)
    assert app.button(key="vision.describe").disabled
    assert "Choose an image above first." in texts(app)


def test_pasted_base64_with_the_data_prefix(monkeypatch, fake_ollama):
    sample = base64.b64encode(open("assets/sample-imagen1.png", "rb").read()).decode()
    app = choose(vision_page(monkeypatch, fake_ollama.url, "es"), "base64")
    app.text_area(key="vision.setting.pasted").set_value(f"data:image/png;base64,{sample}").run()
    assert any("Se ha quitado `data:image/png;base64,`" in i.value for i in app.info)
    assert "Se decodificaron 4864 caracteres de base64 en 3,6 KB: esta es la imagen" in texts(app)
    assert metrics(app)["Enviada"] == "3,7 KB"
    describe(app)
    assert not fake_ollama.bodies("/api/generate")[-1]["images"][0].startswith("data:")
    assert LLAVA_START in markdown(app)


def test_pasted_invalid_base64(monkeypatch, fake_ollama):
    app = choose(vision_page(monkeypatch, fake_ollama.url), "base64")
    app.text_area(key="vision.setting.pasted").set_value("iVBORw0KGgo!AAAA").run()
    assert "Not valid base64: character `!` at position 11" in errors(app)
    app.text_area(key="vision.setting.pasted").set_value("iVBORw0KG").run()
    assert "Incomplete base64: 9 characters" in errors(app)


def test_server_down(monkeypatch, closed_port):
    app = vision_page(monkeypatch, closed_port)
    assert "Connection refused at" in errors(app)
    assert metrics(app)["Sent"] == "3.7 KB"  # preparing the image needs no server
    assert not [b for b in app.button if b.key == "vision.describe"]


def test_model_not_found_while_describing(monkeypatch, fake_ollama):
    fake_ollama.reply("POST", "/api/generate", 404, {"error": "model 'llava:latest' not found"})
    app = describe(vision_page(monkeypatch, fake_ollama.url))
    assert 'The model "llava:latest" is not installed' in errors(app)
    assert any("ollama pull llava:latest" in c.value for c in app.code)


def test_error_in_the_middle_keeps_the_partial_description(monkeypatch, fake_ollama):
    first = json.loads(fixture_lines("llava-describe")[0])
    chunks = [json.dumps({**first, "response": word, "done": False}) for word in (" The image", " shows a cat")]
    fake_ollama.stream("POST", "/api/generate", chunks + ['{"error":"llama runner process has terminated"}'])
    app = describe(vision_page(monkeypatch, fake_ollama.url))
    assert "The image shows a cat" in markdown(app)
    assert "The description stopped half-way" in texts(app)
    assert "The server failed in the middle of the answer" in errors(app)
    assert "llama runner process has terminated" in [t.value for t in app.text]


def test_a_description_interrupted_by_another_run_keeps_what_arrived(monkeypatch, fake_ollama):
    """What a click or a page change leaves while llava writes (Streamlit 1.67 starts the new run
    before the old one stops): the description under way. The new run closes it and shows it."""
    lines = [json.dumps({"response": word, "done": False}) for word in (" A cat", " waves", " hello")] * 20
    fake_ollama.stream("POST", "/api/generate", lines, delay=0.05)
    app = vision_page(monkeypatch, fake_ollama.url)
    job = vision.Describing(OllamaClient(fake_ollama.url), "llava:latest", "Describe the image.", "iVBORw0KGgo=")
    words = job.texts()
    next(words), next(words)
    app.session_state["vision.result"], app.session_state["vision.live"] = job.result, job
    app.run()
    assert "A cat waves" in markdown(app) and "hello" not in markdown(app)
    assert "The description stopped half-way: this is what had arrived." in texts(app)
    assert not app.error and list(words) == []  # the old run's stream ends quietly
    app.switch_page("pages/server.py").run()
    app.switch_page(PAGE).run()
    assert "A cat waves" in markdown(app)


def test_server_error_500(monkeypatch, fake_ollama):
    fake_ollama.reply("POST", "/api/generate", 500, {"error": "failed to process inputs: image: unknown format"})
    app = describe(vision_page(monkeypatch, fake_ollama.url, "es"))
    assert "El servidor respondió con el error HTTP 500" in errors(app)
    assert "failed to process inputs: image: unknown format" in [t.value for t in app.text]


@pytest.mark.builtin
@pytest.mark.parametrize("lang, title, installed", [
    ("en", "No installed model can read images", "Installed, text only: "),
    ("es", "Ningún modelo instalado puede leer imágenes", "Instalados, solo texto: "),
])
def test_builtin_text_only_model_says_what_to_pull(monkeypatch, builtin_server, lang, title, installed):
    app = vision_page(monkeypatch, builtin_server.url, lang)
    assert any(title in w.value for w in app.warning)
    assert "ollama pull llava\nollama pull moondream\nollama pull gemma3:4b" in [c.value for c in app.code]
    assert f"{installed}{builtin_server.model}" in texts(app)
    assert [link.proto.page for link in app.get("page_link")][-1] == "models"
    assert not [b for b in app.button if b.key == "vision.describe"]
    history = app.session_state["app.client"].history
    assert not [e for e in history if e.path in ("/api/generate", "/api/chat")]  # no image sent


def test_camera_photo(monkeypatch, fake_ollama):
    app = choose(vision_page(monkeypatch, fake_ollama.url), "camera")
    assert "Take a photo with the camera above, or choose another source." in texts(app)
    app.camera_input(key="vision.camera.w").set_value(("camera.jpg", jpeg((640, 480)), "image/jpeg")).run()
    assert not app.error and metrics(app)["Received"] == f"{len(jpeg((640, 480))) / 1000:.1f} KB"
    describe(app)
    assert Image.open(io.BytesIO(base64.b64decode(fake_ollama.bodies("/api/generate")[-1]["images"][0]))).size == (640, 480)


def test_prompt_follows_the_language_until_edited(monkeypatch, fake_ollama):
    app = vision_page(monkeypatch, fake_ollama.url, "es")
    assert app.text_input(key="vision.setting.prompt").value == "Describe la imagen."
    app.sidebar.button_group(key="app.lang_input").set_value("en").run()
    assert app.text_input(key="vision.setting.prompt").value == "Describe the image."
    app.text_input(key="vision.setting.prompt").set_value("What animal is this?").run()
    app.sidebar.button_group(key="app.lang_input").set_value("es").run()
    assert app.text_input(key="vision.setting.prompt").value == "What animal is this?"


def provoke(app, mistake: str = "prefix"):
    app.radio(key="vision.provoke.mistake").set_value(mistake).run()
    app.button(key="vision.provoke").click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.mark.builtin
@pytest.mark.parametrize("mistake, byte, explained", [
    ("prefix", 4, "Byte 4 is the `:` of `data:`"),
    ("space", vision.SPACE_AT, f"Byte {vision.SPACE_AT} is the space: Go's base64 decoder"),
])
def test_the_provoked_400_is_the_servers_own_answer(monkeypatch, builtin_server, mistake, byte, explained):
    """The built-in server (no vision model: the 400 comes before the model is looked up, as in
    Ollama's GenerateHandler) answers what Ollama answers."""
    app = provoke(vision_page(monkeypatch, builtin_server.url), mistake)
    assert f"Ollama answered **400**: `illegal base64 data at input byte {byte}`" in errors(app)
    assert explained in markdown(app)
    sent = app.session_state["vision.provoked"][2].exchange.body["images"][0]
    assert sent.startswith("data:image/png;base64,iVBORw0KGgo") if mistake == "prefix" else sent[byte] == " "
    assert any(label.endswith("POST /api/generate → 400") for label in
               [e.label for e in app.expander if e.label.startswith("Show the HTTP")])


def test_the_provoked_400_sends_the_mistake_and_explains_it(monkeypatch, fake_ollama):
    fake_ollama.reply("POST", "/api/generate", 400, {"error": "illegal base64 data at input byte 4"})
    app = provoke(vision_page(monkeypatch, fake_ollama.url, "es"))
    body = fake_ollama.bodies("/api/generate")[-1]
    assert body["model"] == "llava:latest" and body["stream"] is False  # the model chosen below
    assert body["images"][0].startswith("data:image/png;base64,iVBORw0KGgo")
    assert "Ollama respondió **400**: `illegal base64 data at input byte 4`" in errors(app)
    assert "El byte 4 es el `:` de `data:`" in markdown(app)
    assert app.session_state["vision.setting.prompt"] == "Describe la imagen."
    # a server that accepts the mistake is not Ollama: said so
    fake_ollama.reset()
    app = provoke(app, "space")
    assert fake_ollama.bodies("/api/generate")[-1]["images"][0][vision.SPACE_AT] == " "
    assert "El servidor aceptó la imagen mal enviada" in "\n".join(values(app.warning))


def test_the_course_request_without_streaming(monkeypatch, fake_ollama):
    app = vision_page(monkeypatch, fake_ollama.url)
    app.toggle(key="vision.setting.stream").set_value(False).run()
    describe(app)
    body = fake_ollama.bodies("/api/generate")[-1]
    assert body["stream"] is False and body["prompt"] == "Describe the image."
    assert LLAVA_START in markdown(app) and metrics(app)["Prompt evaluation"] == "55.84 s"
    curl = next(c.value for c in app.code if "$(base64 -w 0" in c.value)
    assert '"stream": false' in curl and '"model": "llava"' in curl
    assert 'ollama run llava "Describe the image. ./imagen1.png"' in [c.value for c in app.code]
