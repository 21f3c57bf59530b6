"""The Model library page's pure logic over `/api/tags`: digests for the `/api/show` cache, and which
catalog models are installed, answered for 300 installed models without 9,000 name comparisons.
"""
from __future__ import annotations

from lib.ollama_facts import ModelName, parse_model_name


def digests(tags: dict) -> dict[str, str]:
    """Each installed model's digest by name: with the server, the key of its `/api/show` facts."""
    return {m.get("name") or m.get("model") or "?": m.get("digest") or ""
            for m in tags.get("models") or []}


def _key(name: str) -> ModelName | None:
    # Ollama compares names without case (Name.EqualFold): the parsed lower-case name is that key
    return parse_model_name(name.lower())


def installed_set(names) -> frozenset[ModelName]:
    """The installed names, parsed once; `is_installed` then answers with a set lookup."""
    return frozenset(key for key in map(_key, names) if key is not None)


def is_installed(tag: str, installed: frozenset[ModelName]) -> bool:
    """`catalog.installed` for a set made by `installed_set`: `llava` is `llava:latest`."""
    return _key(tag) in installed
