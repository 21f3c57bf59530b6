"""Real Chromium: the Model library pulls with progress bars, and Cancel stops the download; on the
built-in server, delete and pull back a bundled model, and create `profe` with its live Modelfile;
the memory a typed context needs."""
import time

import pytest

from lib.client import OllamaClient, OllamaError
from tests.plugins.browser import assert_no_exception, wait_for_app
from tests.plugins.fake_ollama import TAGS, fixture_lines, show_body

pytestmark = pytest.mark.browser


def start_pull(page, board, name):
    page.goto(f"{board.url}/models?lang=en")
    wait_for_app(page)
    field = page.get_by_role("textbox", name="Model name")
    field.fill(name)
    field.press("Enter")
    page.locator('[data-testid="stButton"] button', has_text="Pull").first.click()


def test_pull_shows_progress_then_success(dashboard, page, fake_ollama):
    board = dashboard(fake_ollama.url)
    start_pull(page, board, "gemma:2b")
    page.get_by_text('"gemma:2b" is installed and ready.').wait_for()
    page.locator('[data-testid="stProgress"]', has_text="pulling c1864a5eb193… 100% · 1.7 GB").wait_for()
    page.locator('[data-testid="stProgress"]', has_text="Overall 100% · 1.7 GB of 1.7 GB").wait_for()
    assert_no_exception(page)


def test_cancel_stops_the_download(dashboard, page, fake_ollama):
    fake_ollama.stream("POST", "/api/pull", fixture_lines("pull-gemma-2b") * 20, delay=0.1)
    board = dashboard(fake_ollama.url)
    start_pull(page, board, "gemma:2b")
    page.locator('[data-testid="stProgress"]').first.wait_for()
    page.get_by_role("button", name="Cancel the download").click()
    page.get_by_text('Pull of "gemma:2b" cancelled.').wait_for()
    assert page.get_by_text("is installed and ready").count() == 0
    assert_no_exception(page)
    # the fake saw its client hang up instead of finishing the 440-line stream
    deadline = time.monotonic() + 10
    while "client closed" not in fake_ollama.stream_endings and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "client closed" in fake_ollama.stream_endings  # (an earlier test's stream may end here too)


def test_delete_asks_in_a_dialog_that_closes_once_done(dashboard, page, fake_ollama):
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/models?lang=en")
    wait_for_app(page)
    page.get_by_role("button", name="Delete this model").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text('Delete "gemma:2b" from the server?').wait_for()
    assert fake_ollama.bodies("/api/delete") == []
    dialog.get_by_role("button", name="Yes, delete").click()
    page.get_by_text('"gemma:2b" was deleted from the server.').wait_for()
    dialog.wait_for(state="detached")
    assert fake_ollama.bodies("/api/delete") == [{"model": "gemma:2b"}]
    assert_no_exception(page)


def test_tags_panel_opens_short_with_300_models(dashboard, page, fake_ollama):
    fake_ollama.reply("GET", "/api/tags", body={"models": [
        {**TAGS["models"][0], "name": f"model-{n:04d}:latest", "digest": f"{n:064x}"} for n in range(300)]})
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/models?lang=en")
    wait_for_app(page)
    page.get_by_text("Show the HTTP: GET /api/tags → 200").click()
    page.get_by_role("tab", name="Response").click()
    page.get_by_text("… and 295 more models").wait_for()
    assert page.get_by_text("model-0299:latest").count() == 0
    assert_no_exception(page)


def test_memory_follows_the_context_typed(dashboard, page, fake_ollama):
    """Spanish: the three numbers side by side; a bigger num_ctx grows the memory, not the download."""
    fake_ollama.reply("POST", "/api/show", body={**show_body("gemma:2b"), "model_info": {
        "general.architecture": "gemma", "gemma.block_count": 18, "gemma.attention.head_count": 8,
        "gemma.attention.head_count_kv": 1, "gemma.attention.key_length": 256,
        "gemma.attention.value_length": 256, "gemma.embedding_length": 2048, "gemma.context_length": 8192}})
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/models?lang=es")
    wait_for_app(page)
    page.locator('[data-testid="stMetric"]', has_text="Memoria con num_ctx 4096").get_by_text("1,8 GB").wait_for()
    field = page.get_by_role("spinbutton", name="num_ctx para calcular la memoria")
    field.fill("262144")
    field.press("Enter")
    page.locator('[data-testid="stMetric"]', has_text="Memoria con num_ctx 262").get_by_text("6,5 GB").wait_for()
    page.locator('[data-testid="stMetric"]', has_text="Descarga").get_by_text("1,7 GB").wait_for()
    assert_no_exception(page)


@pytest.mark.builtin
def test_delete_then_pull_back_on_the_builtin_server(dashboard, page, bundled_models_back):
    model = bundled_models_back.model
    board = dashboard(bundled_models_back.url)
    page.goto(f"{board.url}/models?lang=en")
    wait_for_app(page)
    page.get_by_text("it has no internet, so it can only install the models it brings with it").wait_for()
    box = page.get_by_role("combobox", name="Model", exact=True)
    box.click()
    box.press("ArrowDown")  # opens Streamlit's list of options
    page.get_by_role("option", name=model).click()
    wait_for_app(page)
    page.get_by_role("button", name="Delete this model").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(f'Delete "{model}" from the server?').wait_for()
    dialog.get_by_role("button", name="Yes, delete").click()
    page.get_by_text(f'"{model}" was deleted from the server.').wait_for()
    start_pull(page, board, model)
    page.get_by_text(f'"{model}" is installed and ready.').wait_for(timeout=60_000)
    page.locator('[data-testid="stProgress"]', has_text="Overall 100%").wait_for()
    assert_no_exception(page)


@pytest.fixture
def profe_removed(builtin_server):
    yield builtin_server
    try:
        OllamaClient(builtin_server.url).delete("profe")
    except OllamaError:
        pass


@pytest.mark.builtin
def test_create_profe_on_the_builtin_server(dashboard, page, profe_removed):
    board = dashboard(profe_removed.url)
    page.goto(f"{board.url}/models?lang=en")
    wait_for_app(page)
    modelfile = page.locator('[data-testid="stCode"]', has_text='FROM smollm2:135m')
    modelfile.filter(has_text="PARAMETER temperature 0.2").wait_for()
    system = page.get_by_role("textbox", name="SYSTEM (the system prompt)")
    system.fill("You are a patient teacher of the Ollama course.")
    system.press("Control+Enter")  # applied: the Modelfile and the request follow, live
    modelfile.filter(has_text='SYSTEM """You are a patient teacher of the Ollama course."""').wait_for()
    page.locator('[data-testid="stCode"]', has_text='"system": "You are a patient teacher of the Ollama course."').wait_for()
    page.get_by_role("button", name="Create", exact=True).click()
    page.get_by_text('"profe" was created: it is in the list above, with its details.').wait_for(timeout=60_000)
    page.get_by_text("System prompt", exact=True).click()  # its details, from /api/show
    page.locator('[data-testid="stExpander"]', has_text="System prompt").locator(
        '[data-testid="stCode"]', has_text="You are a patient teacher of the Ollama course.").wait_for()
    assert_no_exception(page)
