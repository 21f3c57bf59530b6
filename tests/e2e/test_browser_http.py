"""Real Chromium: the "Terminal" tab of "Show the HTTP" on a chat answer, and its session commands."""
import pytest

from tests.plugins.browser import assert_no_exception, wait_for_app

pytestmark = pytest.mark.browser


def test_the_terminal_tab_and_the_session_commands(dashboard, page, fake_ollama):
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/chat?lang=es")
    wait_for_app(page)
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.fill("¿porqué el cielo es azúl?")
    box.press("Enter")
    page.get_by_text("tokens de entrada").wait_for()
    page.get_by_text("Ver el HTTP: POST /api/chat").click()
    page.get_by_role("tab", name="Terminal").click()
    page.locator('[data-testid="stCode"]', has_text=">>> ¿porqué el cielo es azúl?").wait_for()
    page.get_by_text("Comandos de la sesión (/?)").click()
    page.get_by_text("Termina la sesión, como /bye.").wait_for()
    page.get_by_role("tab", name="Python").click()
    page.locator('[data-testid="stCode"]', has_text="answer = client.chat(").wait_for()
    assert_no_exception(page)
