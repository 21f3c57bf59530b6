"""Which failure is it, and what should the student do? From the real error, not a guess.

`diagnose` maps a client error (or a refused host) to a `Diagnosis`: a kind whose title and
advice are translated (`diag.<kind>.title`, `diag.<kind>.advice`), the commands that help, and the
server's own words (`detail`) so nothing is hidden.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lib.client import (CannotConnect, CapabilityMissing, Forbidden, InputTooLong, MalformedResponse,
                        ModelNotFound, NotOllama, OllamaError, OutOfMemory, Redirected, RequestTimeout,
                        ServerBusy, ServerError, StreamError)
from lib.hosts import HostError
from lib.images import SUGGESTED as VISION_MODELS
from lib.models import ReadOnlyMode
from lib.ollama_facts import CAPABILITIES, DEFAULT_PORT, DEFAULT_URL, SMALL_MODELS_WITH, parse_model_name

# Small models of the Ollama library that have each capability (their library pages' tags), for
# "which models can". Capabilities without an entry get no suggestion.
CAPABLE_MODELS = {**SMALL_MODELS_WITH, "vision": VISION_MODELS}


@dataclass(frozen=True)
class Diagnosis:
    kind: str
    detail: str
    commands: tuple[str, ...] = field(default_factory=tuple)
    values: dict = field(default_factory=dict)  # placeholders for the translated texts

    @property
    def title_key(self) -> str:
        return f"diag.{self.kind}.title"

    @property
    def advice_key(self) -> str:
        return f"diag.{self.kind}.advice"


def diagnose(error: Exception, url: str = "") -> Diagnosis:
    detail = getattr(error, "message", None) or str(error)
    values = {"url": url}
    if isinstance(error, ReadOnlyMode):
        return Diagnosis("read_only", detail, (), values)
    if isinstance(error, HostError):
        return Diagnosis(error.key.replace("host.error.", "host_"), detail, (), {"host": error.host})
    if isinstance(error, CannotConnect):
        if error.reason == "dns":
            return Diagnosis("dns", detail, ("ping <host>", "echo $OLLAMA_HOST"), values)
        if error.reason == "refused":
            return Diagnosis("refused", detail, ("ollama serve", "ss -ltnp | grep 11434",
                                                 "netstat -an | grep 11434"), values)
        return Diagnosis("unreachable", detail, ("ollama serve",), values)
    if isinstance(error, RequestTimeout):
        return Diagnosis(f"timeout_{error.phase}", detail, ("ollama ps",), values)
    if isinstance(error, Redirected):
        return Diagnosis("redirect", detail, (f"curl -i {url}/api/version",), {**values, "location": error.location})
    if isinstance(error, NotOllama):
        return Diagnosis("not_ollama", detail, ("curl http://localhost:11434",), values)
    if isinstance(error, ModelNotFound):
        return Diagnosis("model_not_found", detail, ("ollama list", f"ollama pull {error.model}"),
                         {**values, "model": error.model})
    if isinstance(error, CapabilityMissing):
        return _capability(error, detail, values)
    if isinstance(error, OutOfMemory):
        return Diagnosis("out_of_memory", detail, ("free -h", "ollama ps", "ollama pull gemma3:1b"),
                         values)
    if isinstance(error, ServerBusy):
        return Diagnosis("busy", detail, ("ollama ps", "OLLAMA_NUM_PARALLEL=2 OLLAMA_MAX_QUEUE=1024 ollama serve"),
                         values)
    if isinstance(error, Forbidden):
        return Diagnosis("forbidden", detail, (f"curl -i {url or DEFAULT_URL}/api/version",
                                               f"OLLAMA_HOST=0.0.0.0:{DEFAULT_PORT} ollama serve",
                                               'OLLAMA_ORIGINS="http://my-dashboard:8501" ollama serve'), values)
    if isinstance(error, InputTooLong):
        return Diagnosis("input_too_long", detail, (), values)
    if isinstance(error, StreamError):
        return Diagnosis("stream_error", detail, ("ollama ps",), values)
    if isinstance(error, MalformedResponse):
        return Diagnosis("malformed", detail, (), values)
    if isinstance(error, ServerError):
        return Diagnosis("http_error", detail, ("ollama ps",), {**values, "status": error.status})
    if isinstance(error, OllamaError):
        return Diagnosis("unknown", detail, (), values)
    raise TypeError(f"not a client error: {error!r}")


def _capability(error: CapabilityMissing, detail: str, values: dict) -> Diagnosis:
    """What the model cannot do, and small models that can (the first missing capability: the
    server's message, in the details, lists them all)."""
    capability = error.capabilities[0]
    name = parse_model_name(error.model)
    model = name.display() if name is not None else error.model  # without registry.ollama.ai/library/
    models = CAPABLE_MODELS.get(capability, ())
    commands = (f"ollama show {model}", *(f"ollama pull {m}" for m in models[:1]))
    kind = f"capability_{capability}" if capability in CAPABILITIES else "capability"  # one text each
    return Diagnosis(kind, detail, commands, {**values, "model": model, "capability": capability,
                                              "models": ", ".join(models)})
