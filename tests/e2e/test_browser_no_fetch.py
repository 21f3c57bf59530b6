"""Real Chromium against a hostile server: its answers and metadata carry Markdown images, raw HTML
and backtick breakouts that point at a second server (the recorder). On every page (Server, Model
library with a model's details, Chat with an error and an answer, Image description with a
description, Lab with results) the browser fetches nothing from the recorder, and the text is
there to read."""
import json

import pytest

from tests.plugins.browser import assert_no_exception, wait_for_app
from tests.plugins.fake_ollama import TAGS, Script, show_body

pytestmark = pytest.mark.browser


def hostile(rec: str, where: str) -> str:
    """An image, raw HTML and a code span broken out of, each pointing at the recorder."""
    return (f"{where} ![i]({rec}/{where}.png) <img src=\"{rec}/{where}-html.png\"> "
            f"x` ![b]({rec}/{where}-tick.png) `y")


def script_hostile_server(fake, rec: str) -> str:
    """The fake answers every call with text that would load something; returns the model's name."""
    model = f"evil ![m]({rec}/model.png) `x` ![t]({rec}/model-tick.png) `:latest"
    details = {**TAGS["models"][0]["details"], "family": hostile(rec, "family"),
               "parameter_size": hostile(rec, "parameters")}
    fake.reply("GET", "/api/version", body={"version": hostile(rec, "version")})
    fake.reply("GET", "/api/tags", body={"models": [{**TAGS["models"][0], "name": model, "model": model,
                                                     "details": details}]})
    fake.reply("GET", "/api/ps", body={"models": [{"name": model, "model": model, "size": 2_500_000_000,
                                                   "size_vram": 0, "digest": "b50d6c999e59", "details": details,
                                                   "expires_at": "2099-01-01T00:05:00Z", "context_length": 4096}]})
    show = show_body("llava")
    fake.reply("POST", "/api/show", body={**show, "details": details,
                                          "capabilities": ["completion", "vision", hostile(rec, "capability")]})
    return model


def streamed(rec: str, where: str, field: str) -> list[str]:
    """A streamed answer whose image is split across two chunks, as a model would write it."""
    pieces = [f"**Bold** {where}: ![a](", f"{rec}/{where}.png) and <img src=\"{rec}/{where}-html.png\"> ",
              f"and ![c][r]\n\n[r]: {rec}/{where}-ref.png\n"]
    chunk = (lambda text: {"message": {"role": "assistant", "content": text}}) if field == "message" else (
        lambda text: {"response": text})
    return [json.dumps({"model": "evil", **chunk(text), "done": False}) for text in pieces] + [
        json.dumps({"model": "evil", **chunk(""), "done": True, "done_reason": "stop", "eval_count": 12,
                    "eval_duration": 600_000_000})]


def test_nothing_a_server_or_a_model_sends_makes_the_browser_fetch(dashboard, page, fake_ollama, recorder):
    rec = recorder.url
    fetched = []
    page.on("request", lambda request: fetched.append(request.url) if request.url.startswith(rec) else None)
    model = script_hostile_server(fake_ollama, rec)
    board = dashboard(fake_ollama.url)

    def nothing_fetched(where: str) -> None:
        assert fetched == [] and recorder.requests == [], where
        assert page.locator(f'img[src^="{rec}"]').count() == 0, where
        assert_no_exception(page)

    # Server: the version in the badge and the metric, a loaded model's name
    page.goto(f"{board.url}/?lang=en")
    wait_for_app(page)
    page.get_by_text(f"![i]({rec}/version.png)").first.wait_for()  # the version, as text
    assert page.locator('[data-testid="stSidebar"]').get_by_text(f'<img src="{rec}/version-html.png">').count() == 1
    page.get_by_text(f"![m]({rec}/model.png)").first.wait_for()  # the /api/ps name
    nothing_fetched("server page")

    # Model library: the chosen model's details (capabilities, family, parameters)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Model library").click()
    page.get_by_role("heading", name="Details of a model").wait_for()
    wait_for_app(page)
    page.get_by_text(f"![i]({rec}/capability.png)").first.wait_for()
    page.locator('[data-testid="stMetric"]', has_text=f"![i]({rec}/family.png)").wait_for()
    nothing_fetched("model library")

    # Chat: a 404 whose message names the model, then an answer with images split across chunks
    fake_ollama.sequence("POST", "/api/chat", [Script(404, {"error": f"model '{model}' not found"}),
                                               Script(lines=streamed(rec, "chat", "message"),
                                                      content_type="application/x-ndjson")])
    page.locator('[data-testid="stSidebarNav"] a', has_text="Chat").click()
    wait_for_app(page)
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.fill("hola")
    box.press("Enter")
    title = page.locator('[data-testid="stAlert"] strong', has_text="is not installed")
    title.wait_for()
    assert title.inner_text() == f'The model "{model}" is not installed'  # the name as text
    nothing_fetched("chat error")
    box.fill("otra vez")
    box.press("Enter")
    answer = page.locator('[data-testid="stChatMessage"]').last
    answer.get_by_text(f"{rec}/chat.png").wait_for()  # the image's URL, shown
    wait_for_app(page)
    text = answer.inner_text()
    assert "Bold chat: 🖼 a" in text and f'<img src="{rec}/chat-html.png">' in text
    assert answer.locator("strong", has_text="Bold").count() == 1  # the answer's own formatting is kept
    nothing_fetched("chat answer")

    # Image description: the description streams with an image split across chunks
    fake_ollama.stream("POST", "/api/generate", streamed(rec, "vision", "response"))
    page.locator('[data-testid="stSidebarNav"] a', has_text="Image description").click()
    wait_for_app(page)
    page.get_by_role("button", name="Describe the image").click()
    page.get_by_text(f"{rec}/vision.png").first.wait_for()
    wait_for_app(page)
    assert page.get_by_text(f'<img src="{rec}/vision-html.png">').count() >= 1
    nothing_fetched("image description")

    # Lab: the model's name in the progress, the outcomes, the answers' panel and the diff
    answers = [Script(body={"model": model, "response": hostile(rec, f"lab{n}"), "done": True,
                            "eval_count": 10, "eval_duration": 500_000_000, "total_duration": 900_000_000})
               for n in range(4)]
    fake_ollama.sequence("POST", "/api/generate", answers)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Options & seed lab").click()
    wait_for_app(page)
    field = page.get_by_role("spinbutton", name="Repetitions")
    field.fill("2")
    field.press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="Run the experiment").click()
    page.get_by_text("2 distinct of 2").first.wait_for()
    wait_for_app(page)
    nothing_fetched("lab results")
    page.get_by_text(f"Answers of evil ![m]({rec}/model.png)").first.click()
    page.locator('[data-testid="stText"]', has_text=f"![i]({rec}/lab0.png)").wait_for()
    nothing_fetched("lab answers")
