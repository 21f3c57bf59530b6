"""Real Chromium: a chat turn with the recorded server, and Stop on a real generation."""
import pytest

from tests.plugins.browser import assert_no_exception, wait_for_app

pytestmark = pytest.mark.browser


def send(page, text):
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.fill(text)
    box.press("Enter")


def test_send_a_message_and_see_the_answer(dashboard, page, fake_ollama):
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/chat?lang=es")
    wait_for_app(page)
    send(page, "¿porqué el cielo es azúl?")
    page.get_by_text("debido al refracción y la absorción de la luz solar").wait_for()
    page.get_by_text("tokens de entrada").wait_for()
    assert page.locator('[data-testid="stChatMessage"]').count() == 2
    assert_no_exception(page)


@pytest.mark.builtin
def test_stop_keeps_the_partial_answer(dashboard, page, builtin_server):
    board = dashboard(builtin_server.url)
    page.goto(f"{board.url}/chat?lang=en")
    wait_for_app(page)
    send(page, "Count to one thousand: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,")  # a base model goes on
    stop = page.get_by_role("button", name="Stop")
    stop.wait_for()
    page.wait_for_function(  # some words have arrived
        "() => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length == 2 && "
        "document.querySelectorAll('[data-testid=\"stChatMessage\"]')[1].innerText.length > 40")
    stop.click()
    page.get_by_text("Stopped: this is what had arrived.").wait_for()
    answer = page.locator('[data-testid="stChatMessage"]').nth(1).inner_text()
    assert len(answer) > 40
    assert_no_exception(page)
