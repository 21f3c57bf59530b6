"""The course's model catalog (assets/catalog.json) and what fits this machine.

Descriptions are translated (`catalog.<id>` keys); the data itself is language-neutral.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from lib.builtin_server import BUNDLED_MODELS
from lib.ollama_facts import LOCAL_HOSTS, SKILLS, same_model

CATALOG_PATH = pathlib.Path(__file__).resolve().parent.parent / "assets" / "catalog.json"
# What each model is for, in the filter's order ("completion": a base model, which continues text)
PURPOSES = tuple(json.loads(CATALOG_PATH.read_text(encoding="utf-8"))["purposes"])
CAPABILITY_FILTERS = SKILLS  # the /api/show capabilities a student looks for


@dataclass(frozen=True)
class CatalogModel:
    id: str
    tag: str  # what `ollama pull` takes
    name: str
    parameters: str
    size_gb: float  # download size
    memory_gb: float  # RAM to run it comfortably
    purposes: tuple[str, ...]
    course: bool  # named in the course (the others are current small models for laptops)
    capabilities: tuple[str, ...] = ()  # as its Ollama library page tags it (lib/ollama_facts.CAPABILITIES)
    alternative: str | None = None  # the tag of today's model to use instead: this one is historical (2024)
    size_source: str = ""  # where the size was checked (or "NOT CHECKED")
    license: str = ""  # the licence its makers publish it under ("" where not checked)
    content_caveat: bool = False  # no safety tuning: it may answer anything

    @property
    def historical(self) -> bool:
        return self.alternative is not None

    @property
    def builtin(self) -> bool:
        """The built-in server can install it (it has no internet: only its bundled models)."""
        return any(same_model(self.tag, name) for name in BUNDLED_MODELS)

    @property
    def run_command(self) -> str:
        return f"ollama run {self.tag}"

    @property
    def pull_command(self) -> str:
        return f"ollama pull {self.tag}"


@functools.cache
def load_catalog() -> tuple[CatalogModel, ...]:
    data = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    known = {f.name for f in dataclasses.fields(CatalogModel)}  # fields added to the data later are skipped
    return tuple(CatalogModel(**{**{k: v for k, v in m.items() if k in known}, "purposes": tuple(m["purposes"]),
                                 "capabilities": tuple(m.get("capabilities", ()))})
                 for m in data["models"])


def select(models, purpose: str | None = None, fits_in_gb: float | None = None,
           course_only: bool = False, capabilities=()) -> list[CatalogModel]:
    """`capabilities`: the models that have all of them."""
    return [m for m in models
            if (purpose is None or purpose in m.purposes)
            and set(capabilities) <= set(m.capabilities)
            and (fits_in_gb is None or m.memory_gb <= fits_in_gb)
            and (not course_only or m.course)]


def is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in LOCAL_HOSTS or host.startswith("127.")


def machine_memory_gb() -> float | None:
    """Total RAM of the machine running the dashboard (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return None
