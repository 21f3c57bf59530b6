"""Real Chromium: a chat turn with the recorded server, a long imported chat (windowed, exported
whole), Stop on a real generation, a conversation that survives a reload (F5) in this browser
and is seen by no other, and a thinking model's reasoning streamed before its answer."""
import json
import pathlib
import re

import pytest

from tests.plugins.browser import assert_no_exception, wait_for_app
from tests.plugins.fake_ollama import fixture_lines

pytestmark = pytest.mark.browser


def send(page, text):
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.fill(text)
    box.press("Enter")


def chat_messages(page):
    return page.locator('[data-testid="stChatMessage"]')


def wait_for_messages(page, count: int) -> None:
    """The page draws its messages one by one: poll until exactly `count` are shown."""
    page.wait_for_function("n => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length === n",
                           arg=count)


def count_at_every_change(page, text: str):
    """Watch every change of the page and remember the most copies of `text` it ever showed at once."""
    page.evaluate("""text => {
        window.mostCopies = 0;
        new MutationObserver(() => {
            const copies = document.body.innerText.split(text).length - 1;
            window.mostCopies = Math.max(window.mostCopies, copies);
        }).observe(document.body, {subtree: true, childList: true, characterData: true});
    }""", text)
    return lambda: page.evaluate("window.mostCopies")


def import_chat(page, body: dict):
    page.get_by_text("Import a conversation").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "chat.json", "mimeType": "application/json", "buffer": json.dumps(body).encode()}])


def test_send_a_message_and_see_the_answer(dashboard, page, fake_ollama):
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/chat?lang=es")
    wait_for_app(page)
    answer = "debido al refracción y la absorción de la luz solar"
    most_copies = count_at_every_change(page, answer)
    send(page, "¿porqué el cielo es azúl?")
    page.get_by_text(answer).wait_for()
    page.get_by_text("tokens de entrada").wait_for()
    wait_for_app(page)
    assert chat_messages(page).count() == 2
    assert most_copies() == 1  # not even for a moment, while the rerun after the stream redraws it
    page.get_by_text("Ver el HTTP: POST /api/chat").click()  # built when opened
    page.locator("code.language-json", has_text='"content": "¿porqué el cielo es azúl?"').wait_for()
    page.get_by_text("Los tokens de esta respuesta, como llegaron").click()  # built when opened
    page.get_by_text("El|␣cielo|␣no|␣es|␣az|úl|.", exact=False).wait_for()  # tokens, not words
    assert_no_exception(page)


def browser_id(page) -> str:
    return re.search(r"[?&]s=([A-Za-z0-9_-]+)", page.url).group(1)


def test_a_reload_keeps_the_conversation_and_another_browser_sees_none(dashboard, page, browser, fake_ollama):
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/chat?lang=en")
    wait_for_app(page)
    for number, question in enumerate(("pregunta uno", "pregunta dos"), start=1):
        send(page, question)
        page.get_by_text("tokens in").nth(number - 1).wait_for()  # its answer has arrived
        wait_for_app(page)
    before = chat_messages(page).all_inner_texts()
    assert len(before) == 4 and before[2].endswith("pregunta dos")
    mine = browser_id(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Server").click()  # a page change keeps the id
    page.locator("h1").filter(has_text="Server").first.wait_for()
    wait_for_app(page)
    assert browser_id(page) == mine and "lang=en" in page.url
    page.locator('[data-testid="stSidebarNav"] a', has_text="Chat").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length == 4")
    wait_for_app(page)

    page.reload()  # F5
    wait_for_app(page)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length == 4")
    # the turns with their numbers; not their "Show the HTTP" nor their tokens (the recorded calls are not saved)
    assert chat_messages(page).all_inner_texts() == [re.split(r"\n\n(?:http|token)\n\n", text)[0] for text in before]
    assert browser_id(page) == mine
    assert_no_exception(page)

    other = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000}).new_page()
    try:
        other.goto(f"{board.url}/chat?lang=en")  # the same dashboard, another browser
        wait_for_app(other)
        assert chat_messages(other).count() == 0 and browser_id(other) != mine
        other.get_by_role("button", name="Conversations").click()
        other.get_by_text("No saved conversations yet").wait_for()
        assert other.get_by_text("pregunta uno").count() == 0
        assert_no_exception(other)
    finally:
        other.context.close()


def test_a_long_chat_shows_its_end_and_exports_whole(dashboard, page, fake_ollama):
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/chat?lang=en")
    wait_for_app(page)
    import_chat(page, {"model": "gemma:2b", "messages": [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"message {n}"} for n in range(200)]})
    page.get_by_text("180 earlier messages are not shown here").wait_for()
    wait_for_messages(page, 20)
    assert chat_messages(page).first.inner_text().endswith("message 180")
    page.get_by_role("button", name="Show 20 earlier").click()
    page.get_by_text("160 earlier messages are not shown here").wait_for()
    wait_for_messages(page, 40)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export JSON").click()
    exported = json.loads(pathlib.Path(download.value.path()).read_text(encoding="utf-8"))
    assert [m["content"] for m in exported["messages"]] == [f"message {n}" for n in range(200)]
    page.get_by_role("button", name="Show all").click()
    page.get_by_text("message 0", exact=True).wait_for()
    wait_for_messages(page, 200)
    assert_no_exception(page)


QWEN_DETAILS = {"parent_model": "", "format": "gguf", "family": "qwen3", "families": ["qwen3"],
                "parameter_size": "751.63M", "quantization_level": "Q4_K_M"}


def test_a_thinking_models_reasoning_streams_before_its_answer(dashboard, page, fake_ollama):
    fake_ollama.reply("GET", "/api/tags", body={"models": [
        {"name": "qwen3:0.6b", "model": "qwen3:0.6b", "modified_at": "2026-08-01T09:12:44.118937Z", "size": 522653767,
         "digest": "7df6b6e09427a769808717c0a93cadc4ae99ed4eb8bf5ca557c90846becea435", "details": QWEN_DETAILS}]})
    fake_ollama.reply("POST", "/api/show", body={
        "license": "Apache License 2.0", "modelfile": "FROM qwen3:0.6b\n", "parameters": "temperature 0.6",
        "template": "{{ .Prompt }}", "details": QWEN_DETAILS, "model_info": {"general.architecture": "qwen3"},
        "capabilities": ["completion", "tools", "thinking"], "modified_at": "2026-08-01T09:12:44.118937Z"})
    # 51 reasoning chunks then 9 of the answer, one every 80 ms: about 4 s of reasoning to watch
    fake_ollama.stream("POST", "/api/chat", fixture_lines("today-chat-think"), delay=0.08)
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/chat?lang=en")
    wait_for_app(page)
    send(page, "¿Cuál es la capital de España?")
    # while it reasons: the reasoning is on screen, growing, and no answer yet
    page.wait_for_function("""() => {
        const text = document.body.innerText;
        return text.includes('The model is reasoning') && text.includes('Okay, the user is asking')
            && !text.includes('briefly.') && !text.includes('La capital de España');
    }""")
    # then the answer, below the reasoning block
    page.get_by_text("Reasoned ≈ 51 tokens; now the answer").wait_for()
    page.get_by_text("La capital de España es").wait_for()
    reasoning = page.locator('[data-testid="stExpander"]', has_text="Okay, the user is asking").first
    answer = page.get_by_text("La capital de España es").first
    assert reasoning.bounding_box()["y"] < answer.bounding_box()["y"]
    # the finished answer in the history: the reasoning closed above it, with its numbers
    page.get_by_text("Reasoning · ≈ 51 tokens").wait_for()
    page.get_by_text("first reasoning token").wait_for()
    wait_for_app(page)
    assert page.get_by_text("Okay, the user is asking").count() == 0  # closed: built when opened
    page.get_by_text("Reasoning · ≈ 51 tokens").click()
    page.get_by_text("Okay, the user is asking").wait_for()
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
    answer = chat_messages(page).nth(1).inner_text()
    assert len(answer) > 40
    assert_no_exception(page)
