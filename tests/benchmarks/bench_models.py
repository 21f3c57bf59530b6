"""The Model library at real sizes: a rerun of the page with 300 installed models vs 10 (AppTest
against the scripted fake server, alternating, medians), the `/api/show` calls a second session
makes with 300 models (target: 0), and what the `/api/tags` panel shows once open.

A rerun is what a student's every click costs: the list comes from the shared 10 s cache and the
details from the (server, model, digest) cache; what still grows with the list is the table itself.
"""
import json
import os
import pathlib

import streamlit as st
from streamlit.testing.v1 import AppTest

from lib import ui
from tests.benchmarks import alternate_medians
from tests.plugins.apptest import open_http
from tests.plugins.fake_ollama import many_models, serve_fake_ollama, show_body

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROUNDS = 15


def models_page(url: str) -> AppTest:
    os.environ["OLLAMA_HOST"] = url
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.query_params["lang"] = "en"
    app.run()
    app.switch_page("pages/models.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def main() -> None:
    st.cache_data.clear()
    ui.forget_server_lists()
    with serve_fake_ollama() as big, serve_fake_ollama() as small:
        measure(big, small)


def measure(big, small) -> None:
    for fake, count in ((big, 300), (small, 10)):
        fake.reply("GET", "/api/tags", body=many_models(count))
        fake.reply("POST", "/api/show", body=show_body("gemma:2b"))
    big_page, small_page = models_page(big.url), models_page(small.url)
    assert len(big_page.dataframe[0].value) == 300 and len(small_page.dataframe[0].value) == 10
    big_s, small_s = alternate_medians((big_page.run, small_page.run), ROUNDS)
    print(f"Model library rerun (AppTest, median of {ROUNDS} alternating rounds):")
    print(f"  300 installed models: {big_s * 1000:.0f} ms")
    print(f"  10 installed models:  {small_s * 1000:.0f} ms")
    print(f"  ratio 300 / 10: {big_s / small_s:.2f}")

    asked = len(big.bodies("/api/show"))
    models_page(big.url)
    print(f"/api/show calls by a second session with 300 models: {len(big.bodies('/api/show')) - asked} "
          f"(the first session's: {asked}; target 0)")

    complete = len(json.dumps(many_models(300)))
    open_http(big_page, "models.tags.http")
    panel = next(e for e in big_page.expander if ": GET /api/tags →" in e.label)
    on_screen = sum(len(c.value) for c in panel.code)
    print(f"/api/tags panel with 300 models: {complete / 1000:.0f} KB of JSON; closed, none of it is "
          f"sent; open, {on_screen / 1000:.1f} KB of code on screen")


if __name__ == "__main__":
    main()
