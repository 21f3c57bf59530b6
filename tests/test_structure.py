"""The shape the project keeps: thin pages, no private Streamlit API, one HTTP client."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "pages").glob("*.py"))
SOURCES = [ROOT / "app.py", *PAGES, *sorted((ROOT / "lib").rglob("*.py"))]
MAX_PAGE_LINES = 150


def imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_are_layouts_of_at_most_150_lines(page):
    assert len(page.read_text(encoding="utf-8").splitlines()) <= MAX_PAGE_LINES


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_streamlits_public_api_is_imported(source):
    private = [m for m in imported_modules(source)
               if m.startswith("streamlit.") and not m.startswith("streamlit.testing")]
    assert not private, f"{source.name} imports {private}: use the public `streamlit` API"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_client_and_the_builtin_server_speak_http(source):
    relative = source.relative_to(ROOT).as_posix()
    if relative == "lib/client.py":
        return
    assert not {"requests", "urllib3", "urllib.request", "http.client"} & imported_modules(source), relative
