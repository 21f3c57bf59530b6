"""The Server page's facts: loaded models as `ollama ps` shows them, and the install guide's checks.

Each check returns a `Check`: passed or not, an i18n key for what it found, and the values for it.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone

from lib.client import OllamaClient, OllamaError
from lib.formatting import age_parts, human_bytes, parse_timestamp
from lib.hosts import AllowList, HostError, check_host

FOREVER_YEARS = 100  # a negative keep_alive shows as an expiry centuries away
PS_COLUMNS = ("NAME", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL")  # `ollama ps` headers (cmd/cmd.go ListRunningHandler)


@dataclass(frozen=True)
class Check:
    passed: bool
    key: str
    values: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedModel:
    name: str
    size: str
    processor: str  # "100% CPU", "100% GPU" or "48%/52% CPU/GPU", like `ollama ps`
    context_length: int | None
    until: tuple[int, str] | None  # (amount, unit) from now; None = forever


def processor(size: int, size_vram: int) -> str:
    if not size or size_vram <= 0:
        return "100% CPU"
    if size_vram >= size:
        return "100% GPU"
    gpu = round(size_vram * 100 / size)
    return f"{100 - gpu}%/{gpu}% CPU/GPU"


def loaded_models(ps: dict, now: datetime | None = None, lang: str = "en") -> list[LoadedModel]:
    now = now or datetime.now(timezone.utc)
    rows = []
    for model in ps.get("models") or []:
        expires = parse_timestamp(model.get("expires_at"))
        forever = expires is not None and (expires - now).days > FOREVER_YEARS * 365
        rows.append(LoadedModel(
            name=model.get("name") or model.get("model") or "?",
            size=human_bytes(model.get("size"), lang),
            processor=processor(model.get("size") or 0, model.get("size_vram") or 0),
            context_length=model.get("context_length"),
            until=None if forever else age_parts(expires, now),
        ))
    return rows


def check_cli() -> Check:
    """Is the `ollama` command installed on the machine running the dashboard?"""
    path = shutil.which("ollama")
    if path is None:
        return Check(False, "check.cli.missing")
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Check(False, "check.cli.broken", {"error": str(error)})
    return Check(True, "check.cli.found", {"path": path, "version": (result.stdout or result.stderr).strip()})


def check_server(client: OllamaClient) -> Check:
    status = client.status()
    if not status.reachable:
        return Check(False, "check.server.down", {"url": client.base_url})
    if status.builtin:
        return Check(True, "check.server.builtin", {"url": client.base_url})
    return Check(True, "check.server.up", {"url": client.base_url, "version": status.version})


def check_models(client: OllamaClient) -> Check:
    try:
        names = [m.get("name", "?") for m in client.tags().get("models") or []]
    except OllamaError:
        return Check(False, "check.server.down", {"url": client.base_url})
    if not names:
        return Check(False, "check.models.none")
    key = "check.models.one" if len(names) == 1 else "check.models.some"
    return Check(True, key, {"count": len(names), "names": ", ".join(names[:8])})


def check_shared(address: str, origin: str, allow: AllowList) -> Check:
    """Does the server answer at the address students will use, and does it accept their origin?
    Asked from the machine running the panel: a student's network or firewall may still differ."""
    try:
        url = check_host(address, allow)
    except HostError as error:
        return Check(False, "check.shared.bad_address", {"address": error.host})
    remote = OllamaClient(url)
    status = remote.status()
    if not status.reachable:
        return Check(False, "check.shared.unreachable", {"url": url})
    if not origin.strip():
        return Check(True, "check.shared.ok", {"url": url, "version": status.version})
    try:
        if not remote.cors_allows(origin.strip()):
            return Check(False, "check.shared.origin_refused", {"url": url, "origin": origin})
    except OllamaError:
        return Check(False, "check.shared.unreachable", {"url": url})
    return Check(True, "check.shared.origin_ok", {"url": url, "version": status.version, "origin": origin.strip()})
