"""Real Chromium: the Today's API page against the scripted server in today's formats. qwen3:0.6b
calls two tools and then answers; all-minilm embeds three sentences, drawn as a heatmap."""
import json
import pathlib

import pytest

from tests.plugins.browser import assert_no_exception, wait_for_app
from tests.plugins.fake_ollama import Script, fixture_lines, show_body

pytestmark = pytest.mark.browser

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
TAGS = {"models": [
    {"name": "qwen3:0.6b", "model": "qwen3:0.6b", "modified_at": "2026-08-20T09:12:44.1Z", "size": 522653767,
     "digest": "7df6b6e09427a769808717c0a93cadc4ae99ed4eb8bf5ca557c90846becea435", "details": {"family": "qwen3"}},
    {"name": "all-minilm:latest", "model": "all-minilm:latest", "modified_at": "2026-08-20T09:20:01.5Z",
     "size": 45960996, "digest": "1b226e2802dbb772b5fc32a58f103ca1804ef7501331012de126ab22f67475ef",
     "details": {"family": "bert"}},
]}


def show(capabilities: list[str], architecture: str) -> Script:
    body = show_body("gemma:2b")
    body.update(capabilities=capabilities,
                model_info={"general.architecture": architecture, f"{architecture}.context_length": 256})
    return Script(body=body)


def recorded(name: str) -> Script:
    return Script(body=json.loads(fixture_lines(name)[0]))


def test_tools_answer_and_embeddings_heatmap(dashboard, page, fake_ollama):
    fake_ollama.reply("GET", "/api/tags", body=TAGS)
    fake_ollama.sequence("POST", "/api/show", [show(["completion", "tools", "thinking"], "qwen3"),
                                              show(["embedding"], "bert")])
    fake_ollama.sequence("POST", "/api/chat", [recorded("today-chat-tool-call"), recorded("today-chat-tool-answer")])
    fake_ollama.reply("POST", "/api/embed", body=json.loads((FIXTURES / "today-embed.json").read_text()))
    board = dashboard(fake_ollama.url)
    page.goto(f"{board.url}/today?lang=en")
    wait_for_app(page)
    assert page.locator("h1").first.inner_text() == "Today's API"
    page.locator('[data-testid="stSidebarNav"] a', has_text="Today's API").wait_for()

    page.get_by_role("button", name="Ask with tools").click()
    page.get_by_text("In Lima it is 05:15 right now (UTC-05:00), and 18.5 × 4 = 74.").wait_for()
    page.get_by_text("Round 2", exact=True).wait_for()
    assert page.get_by_text("checked against its schema and run here.").count() == 2
    assert page.get_by_text("Show the HTTP: POST /api/chat → 200").count() == 2
    assert len(fake_ollama.bodies("/api/chat")) == 2

    page.get_by_role("button", name="Compute embeddings").click()
    chart = page.locator('[data-testid="stPlotlyChart"]')
    chart.get_by_text("Cosine similarity between sentences").wait_for()
    assert chart.locator("g.hm, .heatmaplayer").count() >= 1  # the heatmap's layer is drawn
    assert chart.get_by_text("0.76").count() >= 2  # cells 1-2 and 2-1
    page.get_by_text("Most alike: sentences 1 and 2 (cosine 0.76).").wait_for()
    assert_no_exception(page)
    assert len(fake_ollama.bodies("/api/embed")) == 1
