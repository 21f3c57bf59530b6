"""Installed models: names, `ollama list` rows, `/api/show` details, and read-only mode.

Pure functions over the server's JSON; lib/ui and pages/models.py lay them out.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime

from lib import ollama_facts, options
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
    size_bytes: int = 0  # the download, as /api/tags gives it


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
            size_bytes=model.get("size") or 0,
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


# ------------------------------------------------------------------ what a model name says
_SIZE = re.compile(r"(\d+x)?e?\d+(\.\d+)?[bm]", re.IGNORECASE)  # 2b, 0.6b, 270m, 8x7b, e2b
# q4_0, q4_K_M, q8_0, iq3_xxs, fp16, bf16, f16, f32: the quantization of the weights
_QUANTIZATION = re.compile(r"(i?q\d(_[0-9a-z]+)*|fp16|bf16|f16|f32)", re.IGNORECASE)


@dataclass(frozen=True)
class TagAnatomy:
    """`[namespace/]model[:tag]` and, by the library's naming habit, the tag's parts:
    `llama3:8b-instruct-q4_K_M` is size 8b, variant instruct, quantization q4_K_M."""

    namespace: str
    model: str
    tag: str
    tag_given: bool  # False: the name had no ":tag", so Ollama reads `latest`
    size: str
    variant: str  # instruct, text (a base model), chat, vision, v1.6-mistral...
    quantization: str


def tag_anatomy(name: str) -> TagAnatomy | None:
    parsed = ollama_facts.parse_model_name(name)
    if parsed is None:
        return None
    size, quantization, variant = "", "", []
    for part in parsed.tag.split("-"):
        if not size and _SIZE.fullmatch(part):
            size = part
        elif not quantization and _QUANTIZATION.fullmatch(part):
            quantization = part
        elif part.lower() != ollama_facts.DEFAULT_TAG:
            variant.append(part)
    return TagAnatomy(parsed.namespace, parsed.model, parsed.tag,
                      ":" in name.rsplit("/", 1)[-1], size, "-".join(variant), quantization)


# ------------------------------------------------------------------ the course's pull of gemma:2b
# The course pulls gemma:2b and lists it with ID b50d6c999e59. Tags move (gemma was "updated to
# version 1.1"): the same name can now be other weights, so the course's outputs need not reproduce.
COURSE_MODEL, COURSE_ID = "gemma:2b", "b50d6c999e59"
# Its five layers as `ollama pull` printed them, with their media types from gemma:2b's manifest
# (a public copy: model 1678447520 B, license 8433 B, template 136 B, params, config 483 B). The
# config comes last: server/images.go PullModel appends the manifest's config after its layers; a
# blob already on disk (a layer shared with another model) is a cache hit, not downloaded again
# (server/download.go downloadBlob).
COURSE_LAYERS = (("c1864a5eb193", "1.7 GB", "model"), ("097a36493f71", "8.4 KB", "license"),
                 ("109037bec39c", "136 B", "template"), ("22a838ceb7fb", "84 B", "params"),
                 ("887433b89a90", "483 B", "config"))


def differs_from_course(name: str, model_id: str) -> bool:
    """Is this the course's model name with other weights than the course's?"""
    return ollama_facts.same_model(name, COURSE_MODEL) and model_id[:12] != COURSE_ID


# ------------------------------------------------------------------ memory for a context
def kv_cache_bytes(model_info: dict, num_ctx: int, num_parallel: int = 1) -> int | None:
    """The KV cache Ollama reserves for `num_ctx` tokens per request, as fs/ggml/ggml.go GraphSize
    counts it (see ollama_facts.KV_CACHE_BYTES_PER_VALUE). None when /api/show's model_info lacks the
    sizes (an older server, a non-GGUF model)."""
    info = model_info or {}
    arch = info.get("general.architecture")

    def value(key: str):
        return info.get(f"{arch}.{key}")

    layers, heads, embedding = value("block_count"), value("attention.head_count"), value("embedding_length")
    heads_kv = value("attention.head_count_kv")
    if not isinstance(layers, int) or heads_kv is None:
        return None
    heads = min(heads) if isinstance(heads, list) and heads else heads  # Ollama's HeadCountMin
    head_size = embedding // heads if isinstance(heads, int) and heads and isinstance(embedding, int) else None
    key, val = value("attention.key_length") or head_size, value("attention.value_length") or head_size
    per_layer = heads_kv if isinstance(heads_kv, list) else [heads_kv] * layers
    if not key or not val or not all(isinstance(n, int) for n in (key, val, *per_layer)):  # server text
        return None
    value_bytes = ollama_facts.KV_CACHE_BYTES_PER_VALUE
    return sum(num_ctx * num_parallel * (key + val) * kv * value_bytes for kv in per_layer if kv)


# ------------------------------------------------------------------ the model's own defaults
def default_parameters(show: dict) -> list[tuple[str, object, object]]:
    """(name, the model's PARAMETER, the server's default for it or None): what a request without
    that option runs with, the model's value overriding the server's (routes.go
    modelOptionsWithEmbeddingBatchDefault: DefaultOptions, then the model's, then the request's)."""
    return [(name, value, option.default if (option := ollama_facts.OPTIONS_BY_NAME.get(name)) else None)
            for name, value in options.model_parameters(show).items()]
