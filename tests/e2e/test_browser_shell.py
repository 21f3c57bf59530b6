"""Real Chromium: the app's frame, deep links on a fresh server, the Server page up and down."""

import pytest

from tests.plugins.browser import assert_no_exception, wait_for_app

pytestmark = pytest.mark.browser

PAGE_TITLES_ES = ["Servidor", "Biblioteca de modelos", "Chat", "Descripción de imágenes",
                  "Laboratorio de opciones y semillas", "La API hoy"]

def nav_labels(page) -> list[str]:
    return [text.strip() for text in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]

def test_deep_link_on_a_fresh_server_gets_the_full_frame(dashboard, page, closed_port):
    """The first request after start-up is a shared deep link: same frame as clicking there."""
    board = dashboard(closed_port)
    page.goto(f"{board.url}/lab?lang=es")
    wait_for_app(page)
    assert page.locator("h1").first.inner_text() == "Laboratorio de opciones y semillas"
    page.wait_for_selector('[data-testid="stSidebarNav"] a')
    assert [label.splitlines()[-1].strip() for label in nav_labels(page)] == PAGE_TITLES_ES  # icon name first
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Servidor Ollama").first.wait_for()  # app.py's sidebar is there
    sidebar.get_by_text("Sin respuesta").wait_for()
    assert "lang=es" in page.url
    assert_no_exception(page)

def test_server_page_down_in_english_shows_diagnosis_and_guide(dashboard, page, closed_port):
    board = dashboard(closed_port)
    page.goto(f"{board.url}/?lang=en")
    wait_for_app(page)
    page.get_by_text("Connection refused at").first.wait_for()
    page.get_by_role("heading", name="Install and start Ollama").wait_for()
    page.locator('[data-testid="stCode"]', has_text="curl -fsSL https://ollama.com/install.sh | sh").wait_for()
    assert_no_exception(page)

def test_server_page_up_and_language_switch(dashboard, page, fake_ollama):
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/?lang=es")
    wait_for_app(page)
    page.get_by_text("Modelos cargados en memoria").first.wait_for()
    assert page.get_by_text("Ollama 0.33.0 ·").count() == 1
    page.locator('[data-testid="stSidebar"] button', has_text="English").click()
    page.get_by_role("heading", name="Ollama server").wait_for()
    assert "lang=en" in page.url
    assert_no_exception(page)

def test_browser_locale_picks_the_language(dashboard, browser, fake_ollama):
    board = dashboard(fake_ollama.url)
    context = browser.new_context(locale="es-ES")
    page = context.new_page()
    page.goto(board.url)
    wait_for_app(page)
    assert page.locator("h1").first.inner_text() == "Servidor Ollama"
    context.close()


def test_changing_the_server_in_the_sidebar_lasts_across_pages(dashboard, page, fake_ollama, closed_port):
    board = dashboard(closed_port)
    page.goto(f"{board.url}/?lang=en")
    wait_for_app(page)
    box = page.locator('[data-testid="stSidebar"] input[type="text"]')
    box.fill("localhost:abc")
    box.press("Enter")
    page.get_by_text('The port in "localhost:abc" is not valid').wait_for()
    box.fill(fake_ollama.url)
    box.press("Enter")
    page.get_by_text("Ollama 0.33.0 ·").wait_for()
    for name in ("Chat", "Options & seed lab", "Server"):
        page.locator('[data-testid="stSidebarNav"] a', has_text=name).click()
        page.locator("h1").filter(has_text=name.split(" ")[0]).first.wait_for()
        page.get_by_text("Ollama 0.33.0 ·").wait_for()
        assert page.locator('[data-testid="stSidebar"] [data-testid="stAlert"]').count() == 0
    assert page.locator('[data-testid="stSidebar"] input[type="text"]').input_value() == fake_ollama.url
    assert_no_exception(page)


def test_server_page_share_security_stop_and_todays_log(dashboard, page, fake_ollama):
    """The Docker tab's share step removes the old container and sits under the security box; the
    ps rows say "Sacar de memoria"; the log reader reads today's CPU log."""
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/?lang=es")
    wait_for_app(page)
    page.get_by_role("button", name="Sacar de memoria").first.wait_for()
    page.get_by_role("tab", name="Docker").click()
    docker = page.locator('[data-testid="stTabPanel"]:visible')  # the open tab only
    docker.locator('[data-testid="stCode"]', has_text="docker rm -f ollama").wait_for()
    docker.locator('[data-testid="stCode"]', has_text="docker stop ollama").wait_for()
    docker.locator('[data-testid="stAlert"]', has_text="no tiene autenticación").wait_for()
    page.get_by_text("Leer el registro de").click()
    page.get_by_text("Hoy (Ollama 0.33, CPU)").click()
    page.get_by_text("No hay GPU utilizable").first.wait_for()
    page.get_by_text("Generación: 97 tokens en 3958,40 ms = 24,50 tokens/s").first.wait_for()
    assert_no_exception(page)
