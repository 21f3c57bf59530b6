"""Which failure is it, and what should the student do? From the real error, not a guess.

`diagnose` maps a client error (or a refused host) to a `Diagnosis`: a kind whose title and
advice are translated (`diag.<kind>.title`, `diag.<kind>.advice`), the commands that help, and the
server's own words (`detail`) so nothing is hidden.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lib.client import (CannotConnect, MalformedResponse, ModelNotFound, NotOllama, OllamaError,
                        OutOfMemory, Redirected, RequestTimeout, ServerError, StreamError)
from lib.hosts import HostError
from lib.models import ReadOnlyMode


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
    if isinstance(error, OutOfMemory):
        return Diagnosis("out_of_memory", detail, ("free -h", "ollama ps", "ollama pull gemma3:1b"),
                         values)
    if isinstance(error, StreamError):
        return Diagnosis("stream_error", detail, ("ollama ps",), values)
    if isinstance(error, MalformedResponse):
        return Diagnosis("malformed", detail, (), values)
    if isinstance(error, ServerError):
        return Diagnosis("http_error", detail, ("ollama ps",), {**values, "status": error.status})
    if isinstance(error, OllamaError):
        return Diagnosis("unknown", detail, (), values)
    raise TypeError(f"not a client error: {error!r}")
