"""Shared fixtures live in tests/plugins/: the scripted fake Ollama and the built-in server."""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["tests.plugins.apptest", "tests.plugins.fake_ollama", "tests.plugins.builtin"]
