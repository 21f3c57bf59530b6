"""A long chat reruns about as fast as a short one: 200 turns against 10, in two measures.

1. Script time of a chat page rerun (AppTest), alternating 200 and 10 turns: target <= 1.5. The
   turns are real answers from the fake server, each with its recorded call ("Show the HTTP"), its
   request holding the whole history, as a student's chat leaves them.
2. Bytes the browser receives per rerun (a real `streamlit run app.py` and Chromium), counted on
   the WebSocket frames from an unrelated click (the Streaming toggle) until the run has finished,
   with a 200-turn and a 10-turn conversation imported as a student would: target <= 2.
"""
from __future__ import annotations

import json
import logging
import os
import pathlib
import statistics
import tempfile
import time

from playwright.sync_api import sync_playwright
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.testing.v1 import AppTest

from lib import chat
from lib.client import OllamaClient
from tests.benchmarks import alternate_medians
from tests.plugins.browser import CHROMIUM, CHROMIUM_FLAGS, Dashboard
from tests.plugins.browser import wait_for_app
from tests.plugins.fake_ollama import serve_fake_ollama

ROOT = pathlib.Path(__file__).resolve().parents[2]
LONG, SHORT = 200, 10
SCRIPT_ROUNDS = 41
BROWSER_ROUNDS = 7
ANSWER = ("El cielo se ve azul por la dispersión de Rayleigh: la luz del sol choca con las moléculas del "
          "aire, y las longitudes de onda cortas (azul y violeta) se dispersan mucho más que las largas. "
          "Nuestros ojos son más sensibles al azul que al violeta, y parte del violeta se absorbe arriba "
          "en la atmósfera, así que vemos el cielo azul. ") * 2  # about 600 characters, a typical answer


# ---------------------------------------------------------------------- 1. script time
def chatted(url: str, turns: int) -> chat.Conversation:
    """`turns` messages, half of them answers streamed from the fake server through lib/chat.py."""
    conversation, client = chat.Conversation(), OllamaClient(url)
    for number in range(turns // 2):
        conversation.ask(f"Pregunta {number}: ¿por qué el cielo es azul?")
        answer = conversation.answer(client, chat.Settings("gemma:2b"), stream=True)
        "".join(answer.texts())
        conversation.finish(answer)
    return conversation


def chat_page(url: str, conversation: chat.Conversation) -> AppTest:
    os.environ["OLLAMA_HOST"] = url
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.query_params["lang"] = "en"
    app.run()
    app.switch_page("pages/chat.py")
    app.session_state["chat.conversation"] = conversation
    app.run()
    assert not app.exception and len(app.chat_message) == min(len(conversation.turns), chat.WINDOW)
    return app


def script_time(url: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """Medians of (wall, CPU) seconds per rerun, 200 turns and 10: the CPU time of this process
    (the script runs on AppTest's thread) moves less than wall time on a shared machine."""
    pages = chat_page(url, chatted(url, LONG)), chat_page(url, chatted(url, SHORT))
    cpu = [], []

    def rerun(app, spent):
        def run():
            started = time.process_time()
            app.run()
            spent.append(time.process_time() - started)
        return run

    wall = alternate_medians([rerun(app, spent) for app, spent in zip(pages, cpu)], SCRIPT_ROUNDS)
    return tuple(zip(wall, (statistics.median(spent) for spent in cpu)))


# ------------------------------------------------------------------- 2. bytes to the browser
def export(turns: int) -> bytes:
    messages = [{"role": "user", "content": f"Pregunta {n // 2}: ¿por qué el cielo es azul?"} if n % 2 == 0 else
                {"role": "assistant", "content": ANSWER,
                 "metrics": {"prompt_tokens": 30 + n, "output_tokens": 140, "eval_s": 4.5, "load_s": 0.01,
                             "first_token_s": 0.3, "wall_s": 4.9}}
                for n in range(turns)]
    return json.dumps({"format": chat.EXPORT_FORMAT, "model": "gemma:2b", "messages": messages}).encode()


class Tab:
    """One browser tab on the chat page, counting what its WebSocket receives."""

    def __init__(self, browser, url: str, turns: int):
        self.page = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000}).new_page()
        self.frames: list[bytes] = []
        self.page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: self.frames.append(frame)))
        self.page.goto(f"{url}/chat?lang=en")
        wait_for_app(self.page)
        self.page.get_by_text("Import a conversation").click()
        self.page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            files=[{"name": "chat.json", "mimeType": "application/json", "buffer": export(turns)}])
        self.page.wait_for_function(f"() => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length"
                                    f" == {min(turns, chat.WINDOW)}")
        wait_for_app(self.page)

    def rerun(self) -> tuple[int, float]:
        """Bytes received, and seconds until the run had finished, for one rerun that changes
        nothing in the conversation."""
        self.frames.clear()
        started = time.perf_counter()
        self.page.get_by_text("Streaming", exact=True).click()
        while not any(finished(frame) for frame in list(self.frames)):
            if time.perf_counter() - started > 60:
                raise TimeoutError("the chat page's rerun did not finish within 60 s")
            self.page.wait_for_timeout(5)  # frames arrive as Playwright events: let them in
        return sum(len(frame) for frame in self.frames), time.perf_counter() - started


def finished(frame) -> bool:
    """The frame that says the script run is over."""
    if isinstance(frame, str):
        return False
    message = ForwardMsg()
    message.ParseFromString(frame)
    return message.WhichOneof("type") == "script_finished"


def browser_bytes(url: str) -> tuple[tuple[float, float], tuple[float, float]]:
    with tempfile.TemporaryDirectory() as logs, sync_playwright() as playwright:
        board = Dashboard(url, pathlib.Path(logs))
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            tabs = Tab(browser, board.url, LONG), Tab(browser, board.url, SHORT)
            for tab in tabs:
                tab.rerun()  # warm up
            measured = [[], []]
            for _ in range(BROWSER_ROUNDS):
                for tab, results in zip(tabs, measured):
                    results.append(tab.rerun())
        finally:
            browser.close()
            board.stop()
    return tuple((statistics.median(b for b, _ in results), statistics.median(s for _, s in results))
                 for results in measured)


def main() -> None:
    # AppTest's session state, set from this thread, warns that no script run is going on
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").disabled = True
    with serve_fake_ollama() as fake:
        (long_s, long_cpu), (short_s, short_cpu) = script_time(fake.url)
        (long_bytes, long_browser_s), (short_bytes, short_browser_s) = browser_bytes(fake.url)
    print(f"chat page rerun script time (AppTest), median of {SCRIPT_ROUNDS} alternating rounds:")
    print(f"  {LONG} turns: {long_s * 1000:.0f} ms (CPU {long_cpu * 1000:.0f} ms)   "
          f"{SHORT} turns: {short_s * 1000:.0f} ms (CPU {short_cpu * 1000:.0f} ms)")
    print(f"  ratio {LONG} / {SHORT}: {long_s / short_s:.2f} (target <= 1.5); in CPU time {long_cpu / short_cpu:.2f}")
    print(f"bytes received by Chromium per chat rerun (a toggle), median of {BROWSER_ROUNDS} alternating rounds:")
    print(f"  {LONG} turns: {long_bytes / 1000:.1f} KB, run finished after {long_browser_s * 1000:.0f} ms   "
          f"{SHORT} turns: {short_bytes / 1000:.1f} KB, after {short_browser_s * 1000:.0f} ms")
    print(f"  ratio {LONG} / {SHORT}: {long_bytes / short_bytes:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
