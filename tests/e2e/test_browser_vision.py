"""Real Chromium: upload a photo on the Image description page, see what is sent, get llava's answer;
leave the page while llava writes and find what had arrived."""
import base64
import io
import json
import time

import pytest
from PIL import Image

from tests.plugins.browser import assert_no_exception, wait_for_app

pytestmark = pytest.mark.browser


def test_upload_prepare_and_describe(dashboard, page, fake_ollama, tmp_path):
    photo = tmp_path / "foto.jpg"
    Image.linear_gradient("L").resize((3000, 2000)).convert("RGB").save(photo, "JPEG", quality=90)
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/vision?lang=en")
    wait_for_app(page)
    assert page.locator("h1").first.inner_text() == "Image description"
    page.get_by_text("What Pillow changed").wait_for()  # the course sample is there from the start

    page.locator('[data-testid="stButtonGroup"] button', has_text="Upload").click()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(photo))
    page.get_by_text("Downscaled from 3000×2000 to 1024×683 (longest side 1024 px).").wait_for()
    sent = page.locator('[data-testid="stMetric"]', has_text="Sent")
    assert sent.inner_text().split()[-1] == "KB"
    assert "×1.33 of the bytes" in page.locator('[data-testid="stMetric"]', has_text="Base64").inner_text()

    page.get_by_role("button", name="Describe the image").click()
    page.get_by_role("paragraph").filter(has_text="The image shows a playful, black and white line drawing").wait_for()
    page.get_by_text("Show the HTTP: POST /api/generate → 200").wait_for()
    assert_no_exception(page)
    body = fake_ollama.bodies("/api/generate")[-1]
    image = Image.open(io.BytesIO(base64.b64decode(body["images"][0])))
    assert (body["model"], image.format, image.size) == ("llava:latest", "JPEG", (1024, 683))

    # another page and back: the photo, its settings and the description are still there
    page.locator('[data-testid="stSidebarNav"] a', has_text="Server").click()
    page.get_by_role("heading", name="Ollama server").wait_for()
    page.locator('[data-testid="stSidebarNav"] a', has_text="Image description").click()
    page.get_by_role("paragraph").filter(has_text="The image shows a playful, black and white line drawing").wait_for()
    page.get_by_text("Downscaled from 3000×2000 to 1024×683 (longest side 1024 px).").wait_for()
    alerts = page.locator("[data-testid=\"stAlert\"]").all_inner_texts()
    assert alerts == []  # no widget-state warnings either
    assert_no_exception(page)
    assert len(fake_ollama.bodies("/api/generate")) == 1


def test_leaving_while_llava_writes_keeps_what_arrived(dashboard, page, fake_ollama):
    """Streamlit 1.67 starts the next page's run before the streaming one stops: the words that
    had arrived are kept, and the server sees the connection close (llava stops writing)."""
    words = [json.dumps({"model": "llava", "response": f" word{n}", "done": False}) for n in range(80)]
    fake_ollama.stream("POST", "/api/generate", words, delay=0.25)
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/vision?lang=en")
    wait_for_app(page)
    page.get_by_role("button", name="Describe the image").click()
    page.get_by_text("word3", exact=False).first.wait_for()
    page.locator('[data-testid="stSidebarNav"] a', has_text="Server").click()
    page.get_by_role("heading", name="Ollama server").wait_for()
    page.locator('[data-testid="stSidebarNav"] a', has_text="Image description").click()
    page.get_by_text("The description stopped half-way: this is what had arrived.").wait_for()
    kept = page.get_by_role("paragraph").filter(has_text="word0").inner_text()
    assert kept.startswith("word0 word1 word2 word3") and "word79" not in kept
    deadline = time.monotonic() + 10
    while "client closed" not in fake_ollama.stream_endings and time.monotonic() < deadline:
        time.sleep(0.1)  # the fake notices the closed connection at its next line
    assert "client closed" in fake_ollama.stream_endings  # (an earlier test's stream may end here too)
    assert_no_exception(page)


def test_provoke_the_data_prefix_error(dashboard, page, fake_ollama):
    fake_ollama.reply("POST", "/api/generate", 400, {"error": "illegal base64 data at input byte 4"})
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/vision?lang=es")
    wait_for_app(page)
    page.get_by_text("El error clásico: el prefijo").click()
    page.get_by_role("button", name="Provoca el error").click()
    page.get_by_text("illegal base64 data at input byte 4", exact=False).first.wait_for()
    page.get_by_text("antes de buscar el modelo", exact=False).wait_for()  # the explanation
    assert fake_ollama.bodies("/api/generate")[-1]["images"][0].startswith("data:image/png;base64,")
    assert_no_exception(page)
