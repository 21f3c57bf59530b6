"""AppTest helpers every page test uses: open the app on a server, and read what the user sees."""
from __future__ import annotations

import pathlib
import re
import shutil
import uuid

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib import persistence

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEXT_ELEMENTS = ("markdown", "caption", "error", "success", "warning", "info", "title", "header",
                 "subheader", "code")


@pytest.fixture(autouse=True)
def fresh_streamlit_caches():
    """Streamlit's caches outlive an AppTest and the fake server keeps its address: each test starts
    from what its server says; sessions opened within one test share the caches, as in a class."""
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(autouse=True)
def data_dir(monkeypatch):
    """Saved work goes to a folder inside the repository (.cache/ is ignored by git), one per test."""
    folder = ROOT / ".cache" / f"test-data-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(persistence.DATA_DIR_ENV, str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def open_app(monkeypatch, url: str, lang: str = "en", page: str | None = None, env: dict | None = None) -> AppTest:
    """app.py (the frame) on the server at `url`, optionally switched to `page`, with no exception."""
    monkeypatch.setenv("OLLAMA_HOST", url)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    app.query_params["lang"] = lang
    app.run()
    if page:
        app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def shown(markdown: str) -> str:
    """What the user reads of a Markdown value: backslash escapes and the entities lib/safe_text
    writes are rendered as their characters."""
    return re.sub(r"\\(.)", r"\1", str(markdown)).replace("&#33;", "!").replace("&lt;", "<")


def texts(app: AppTest) -> str:
    """Every text element as the user reads it, one per line."""
    return "\n".join(shown(e.value) for kind in TEXT_ELEMENTS for e in getattr(app, kind))


def values(elements) -> list[str]:
    """The elements' values as the user reads them (`values(app.success)`)."""
    return [shown(e.value) for e in elements]


def table_text(element) -> list[dict]:
    """A st.dataframe's rows as the browser draws them: a Styler's display values (sent beside the data,
    as Arrow) where the page formats numbers in its language, else the data itself."""
    import pyarrow

    styled = element.proto.arrow_data.styler.display_values
    return (pyarrow.ipc.open_stream(styled).read_pandas() if styled else element.value).to_dict("records")


def metrics(app: AppTest) -> dict:
    return {shown(m.label): shown(m.value) for m in app.metric}


def open_http(app: AppTest, key: str) -> AppTest:
    """Open the "Show the HTTP" panel drawn with `key` (its content is built only while open)."""
    app.session_state[f"{key}.open"] = True
    return app.run()
