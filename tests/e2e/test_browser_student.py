"""Real Chromium, the built-in server, both languages: a student does each page's main action.

With SCREENSHOTS=<folder> (`make screenshots`), each page is also saved as <page>-<lang>.png for
the README.
"""
import os
import pathlib

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.plugins.browser import assert_no_exception, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.builtin]
SAMPLE = pathlib.Path(__file__).resolve().parents[2] / "assets" / "sample-imagen1.png"
TEXT = {
    "es": {"check": "Comprobar", "checked": "responde el servidor integrado", "model_name": "Nombre del modelo",
           "pull": "Descargar", "pulled": "está instalado y listo", "settings": "Prompt de sistema, opciones y formato",
           "answered": "tokens de entrada", "no_vision": "Ningún modelo instalado puede leer imágenes",
           "repetitions": "Repeticiones", "run": "Ejecutar el experimento", "identical": "2/2 idénticas",
           "message": "El cielo es azul porque"},
    "en": {"check": "Check", "checked": "built-in server answers", "model_name": "Model name",
           "pull": "Pull", "pulled": "is installed and ready", "settings": "System prompt, options and format",
           "answered": "tokens in", "no_vision": "No installed model can read images",
           "repetitions": "Repetitions", "run": "Run the experiment", "identical": "2/2 identical",
           "message": "The sky is blue because"},
}


def snapshot(page, name):
    folder = os.environ.get("SCREENSHOTS")
    if folder:
        page.wait_for_timeout(500)  # let charts finish their transition before the picture
        page.screenshot(path=str(pathlib.Path(folder) / f"{name}.png"), full_page=False)


def open_expander(page, label, inside):
    """Click `label` until `inside` shows: a click on a page that is still being redrawn can land
    on an expander the next draw closes again."""
    summary = page.locator('[data-testid="stExpander"] summary', has_text=label)
    for _ in range(5):
        summary.click()
        try:
            inside.wait_for(timeout=5_000)
            return
        except PlaywrightTimeout:
            wait_for_app(page)
    inside.wait_for()


def number(page, label, value):
    field = page.get_by_role("spinbutton", name=label)
    field.fill(str(value))
    field.press("Enter")


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_student_goes_through_every_page(dashboard, page, builtin_server, lang):
    text = TEXT[lang]
    board = dashboard(builtin_server.url)

    page.goto(f"{board.url}/?lang={lang}")  # 1. server: check it answers
    wait_for_app(page)
    page.locator(".st-key-check-serve-linux button").click()  # step 2 of the Linux guide
    page.get_by_text(text["checked"]).wait_for()
    snapshot(page, f"server-{lang}")
    assert_no_exception(page)

    page.goto(f"{board.url}/models?lang={lang}")  # 2. models: pull the bundled model
    wait_for_app(page)
    field = page.get_by_role("textbox", name=text["model_name"])
    field.fill(builtin_server.model)
    field.press("Enter")
    page.locator('[data-testid="stButton"] button', has_text=text["pull"]).first.click()
    page.get_by_text(text["pulled"]).wait_for(timeout=60_000)
    snapshot(page, f"models-{lang}")
    assert_no_exception(page)

    page.goto(f"{board.url}/chat?lang={lang}")  # 3. chat: a turn, kept short
    wait_for_app(page)
    open_expander(page, text["settings"], page.get_by_role("spinbutton", name="num_predict"))
    number(page, "num_predict", 24)
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.fill(text["message"])
    box.press("Enter")
    page.get_by_text(text["answered"]).wait_for(timeout=120_000)
    assert page.locator('[data-testid="stChatMessage"]').count() == 2
    snapshot(page, f"chat-{lang}")
    assert_no_exception(page)

    page.goto(f"{board.url}/vision?lang={lang}")  # 4. vision: the image is prepared; the model is text-only
    wait_for_app(page)
    page.get_by_text(text["no_vision"]).wait_for()
    snapshot(page, f"vision-{lang}")
    assert_no_exception(page)

    page.goto(f"{board.url}/lab?lang={lang}")  # 5. lab: a small experiment
    wait_for_app(page)
    number(page, text["repetitions"], 2)
    number(page, "num_predict", 8)
    page.get_by_role("button", name=text["run"]).click()
    page.get_by_text(text["identical"]).first.wait_for(timeout=120_000)  # one line per seeded condition
    page.locator(".js-plotly-plot").first.wait_for()
    page.get_by_role("heading", name="Resultados" if lang == "es" else "Results").scroll_into_view_if_needed()
    snapshot(page, f"lab-{lang}")
    assert_no_exception(page)
