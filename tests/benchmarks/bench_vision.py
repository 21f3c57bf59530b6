"""Opening the Image description page with 300 installed models: the `/api/show` calls a session
makes, and the page-open time of the first session (nothing known yet) vs a second session (what
every other student gets). Target: 0 calls for the second session.

AppTest on the scripted fake Ollama; its /api/show answers after 10 ms, as a busy server may. Each
round gives every model a new digest (as if all were pulled again), so the first session of each
round starts cold; sessions alternate (first, second, first, ...) so machine noise hits both.
"""
import statistics
import time

import pytest

from lib import ui
from tests.plugins.apptest import open_app
from tests.plugins.fake_ollama import many_models, serve_fake_ollama, show_body

MODELS = 300
SHOW_DELAY_S = 0.010
ROUNDS = 3
PAGE = "pages/vision.py"


def main() -> None:
    with serve_fake_ollama() as fake:
        measure(fake)


def measure(fake) -> None:
    fake.reply("POST", "/api/show", body=show_body("llava"), delay=SHOW_DELAY_S)
    calls, seconds = {"first": [], "second": [], "rerun": []}, {"first": [], "second": [], "rerun": []}

    with pytest.MonkeyPatch.context() as monkeypatch:
        def measure(session: str, run) -> None:
            before = len(fake.bodies("/api/show"))
            started = time.perf_counter()
            app = run()
            seconds[session].append(time.perf_counter() - started)
            calls[session].append(len(fake.bodies("/api/show")) - before)
            assert not app.exception and len(app.selectbox(key="vision.setting.model").options) == MODELS

        for number in range(ROUNDS + 1):  # round 0 warms up (imports, Streamlit's script cache)
            fake.reply("GET", "/api/tags", body=many_models(MODELS, version=str(number)))
            ui.forget_server_lists()  # as after a pull: the next session lists the new versions
            for session in ("first", "second"):
                app = open_app(monkeypatch, fake.url)  # a new session, on the frame's first page
                measure(session, lambda: app.switch_page(PAGE).run())
            measure("rerun", app.run)  # the second session again: any click on the page
            if number == 0:
                for values in (*calls.values(), *seconds.values()):
                    values.clear()
    median = {session: statistics.median(values) * 1000 for session, values in seconds.items()}
    print(f"Image description page, {MODELS} installed models, /api/show answering after "
          f"{SHOW_DELAY_S * 1000:.0f} ms, {ROUNDS} rounds (AppTest, the page's run only, medians):")
    print(f"  /api/show calls, first session:  {calls['first']}")
    print(f"  /api/show calls, second session: {calls['second']} (target 0)")
    print(f"  open, first session:  {median['first']:.0f} ms")
    print(f"  open, second session: {median['second']:.0f} ms")
    print(f"  rerun, second session: {median['rerun']:.0f} ms ({calls['rerun']} /api/show calls)")
    print(f"  ratio second / first: {median['second'] / median['first']:.3f}")


if __name__ == "__main__":
    main()
