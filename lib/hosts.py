"""Where the dashboard looks for a server: `OLLAMA_HOST` parsing, validation and the allow-list.

`parse_host` follows the official `ollama` Python client (`ollama._client._parse_host`) rule for
rule, so a student's `OLLAMA_HOST` means the same thing here as in their own scripts. `check_host`
adds what the official client does not do: it refuses input that could never work (a bad port, a
scheme other than http/https, spaces) and, on shared deployments, any server outside
`COMPANION_ALLOWED_HOSTS`, before anything is sent.
"""
from __future__ import annotations

import ipaddress
import os
import urllib.parse
from dataclasses import dataclass

from lib.ollama_facts import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_URL

ALLOWED_HOSTS_ENV = "COMPANION_ALLOWED_HOSTS"


class HostError(ValueError):
    """Host input that is refused before any request. `key` names the translated message."""

    def __init__(self, key: str, host: str):
        super().__init__(f"{key}: {host!r}")
        self.key = key
        self.host = host


def parse_host(host: str | None) -> str:
    """The base URL for `host`, exactly as the official client computes it."""
    host, port = host or "", DEFAULT_PORT
    scheme, _, hostport = host.partition("://")
    if not hostport:
        scheme, hostport = "http", host
    elif scheme == "http":
        port = 80
    elif scheme == "https":
        port = 443

    split = urllib.parse.urlsplit(f"{scheme}://{hostport}")
    hostname = split.hostname or DEFAULT_HOST
    port = split.port or port
    try:
        if isinstance(ipaddress.ip_address(hostname), ipaddress.IPv6Address):
            hostname = f"[{hostname}]"  # urlsplit drops the brackets
    except ValueError:
        pass
    if path := split.path.strip("/"):
        return f"{scheme}://{hostname}:{port}/{path}"
    return f"{scheme}://{hostname}:{port}"


@dataclass(frozen=True)
class AllowList:
    """Base URLs a visitor may choose; empty means any server is allowed (a personal laptop)."""

    urls: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: os._Environ | dict | None = None) -> "AllowList":
        raw = (environ if environ is not None else os.environ).get(ALLOWED_HOSTS_ENV, "")
        return cls(tuple(parse_host(item.strip()) for item in raw.split(",") if item.strip()))

    def allows(self, url: str) -> bool:
        return not self.urls or url in self.urls


def check_host(host: str, allow: AllowList | None = None) -> str:
    """Validate what a user typed and return the base URL to use, or raise HostError."""
    text = (host or "").strip()
    if not text:
        raise HostError("host.error.empty", host)
    if any(ch.isspace() for ch in text):
        raise HostError("host.error.spaces", host)
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme.lower() not in ("http", "https"):
            raise HostError("host.error.scheme", host)
        text = f"{scheme.lower()}://{rest}"  # the official client only knows lower-case schemes
    try:
        url = parse_host(text)
    except ValueError:  # urlsplit's port check: `localhost:abc`, `host:99999`
        raise HostError("host.error.port", host) from None
    if allow is not None and not allow.allows(url):
        raise HostError("host.error.not_allowed", host)
    return url


def default_url(environ: os._Environ | dict | None = None) -> str:
    """The server from `OLLAMA_HOST` (or Ollama's default when it is unset or unusable)."""
    raw = (environ if environ is not None else os.environ).get("OLLAMA_HOST", "")
    try:
        return parse_host(raw)
    except ValueError:
        return DEFAULT_URL
