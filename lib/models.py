"""Installed models: names, `ollama list` rows, `/api/show` details, and read-only mode.

Pure functions over the server's JSON; lib/ui and pages/models.py lay them out.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from lib import ollama_facts
from lib.formatting import age_parts, parse_timestamp

READ_ONLY_ENV = "COMPANION_READ_ONLY"
CAPABILITIES = ollama_facts.CAPABILITIES  # pages/models.py translates these (models.capability.<name>)


class NameRefused(ValueError):
    """A model name refused before anything is sent; `key` names the translated message."""

    def __init__(self, key: str, name: str):
        super().__init__(f"{key}: {name!r}")
        self.key = key
        self.name = name


class ReadOnlyMode(PermissionError):
    """Pull, delete and copy are switched off on this (shared classroom) dashboard."""


def read_only(environ=None) -> bool:
    value = (environ if environ is not None else os.environ).get(READ_ONLY_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def ensure_writable(environ=None) -> None:
    if read_only(environ):
        raise ReadOnlyMode(READ_ONLY_ENV)


def check_name(name: str) -> str:
    """The name to send, or NameRefused: empty, spaces, or what Ollama calls an invalid name
    (`llama2::7b`, stray characters)."""
    text = (name or "").strip()
    if not text:
        raise NameRefused("models.name.empty", name)
    if any(ch.isspace() for ch in text):
        raise NameRefused("models.name.spaces", name)
    if ollama_facts.parse_model_name(text) is None:
        raise NameRefused("models.name.invalid", name)
    return text


@dataclass(frozen=True)
class InstalledModel:
    name: str
    id: str  # first 12 characters of the digest, as `ollama list`
    size_gb: float
    modified: datetime | None
    modified_ago: tuple[int, str] | None
    family: str
    parameter_size: str
    quantization: str


def installed_models(tags: dict, now: datetime | None = None) -> list[InstalledModel]:
    rows = []
    for model in tags.get("models") or []:
        details = model.get("details") or {}
        modified = parse_timestamp(model.get("modified_at"))
        rows.append(InstalledModel(
            name=model.get("name") or model.get("model") or "?",
            id=(model.get("digest") or "").removeprefix("sha256:")[:12],
            size_gb=round((model.get("size") or 0) / 1e9, 1),
            modified=modified,
            modified_ago=age_parts(modified, now),
            family=details.get("family") or "",
            parameter_size=details.get("parameter_size") or "",
            quantization=details.get("quantization_level") or "",
        ))
    return rows


@dataclass(frozen=True)
class ModelDetails:
    capabilities: tuple[str, ...] | None  # None: an older server that does not report them
    context_length: int | None
    architecture: str
    family: str
    parameter_size: str
    quantization: str
    parameters: str
    template: str
    system: str
    license: str
    modelfile: str


def model_details(show: dict) -> ModelDetails:
    info = show.get("model_info") or {}
    details = show.get("details") or {}
    architecture = str(info.get("general.architecture") or details.get("family") or "")
    context = info.get(f"{architecture}.context_length")
    if context is None:  # some GGUFs name the key after another architecture string
        context = next((v for k, v in info.items() if k.endswith(".context_length")), None)
    capabilities = show.get("capabilities")
    return ModelDetails(
        capabilities=tuple(capabilities) if isinstance(capabilities, list) else None,
        context_length=context if isinstance(context, int) else None,
        architecture=architecture,
        family=details.get("family") or "",
        parameter_size=details.get("parameter_size") or "",
        quantization=details.get("quantization_level") or "",
        parameters=show.get("parameters") or "",
        template=show.get("template") or "",
        system=show.get("system") or "",
        license=show.get("license") or "",
        modelfile=show.get("modelfile") or "",
    )
