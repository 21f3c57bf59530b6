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
    """Is the catalog `tag` among the names of `installed_set`? `llava` is `llava:latest`."""
    return _key(tag) in installed


def builtin_models(builtin: dict) -> list[str]:
    """The models the built-in server can install (its /api/version `builtin.models`): it has no
    internet, only the files its Python packages ship. Server text: anything but a string is left out."""
    names = builtin.get("models")
    return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []


def builtin_can_install(name: str, builtin: dict) -> bool:
    return is_installed(name, installed_set(builtin_models(builtin)))


def installed_name(name: str, names) -> str | None:
    """How the server lists `name` (`profe` is listed as `profe:latest`), or None if it does not."""
    key = _key(name)
    return next((installed for installed in names if _key(installed) == key), None) if key else None
