"""A model store laid out as Ollama's: content-addressed blobs and one manifest per name.

    $OCC_CACHE_DIR/                       (model.cache_dir())
      blobs/sha256-<hex>                  GGUF weights, template, system, params, license, config
      manifests/registry.ollama.ai/library/<model>/<tag>    Ollama's manifest JSON
      builtin-store.json                  first-start marker: which bundled models were installed
      .lock                               flock: one writer at a time, across processes

A manifest is `{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
"config": {mediaType, digest, size}, "layers": [{mediaType, digest, size, from?}]}` with Ollama's media
types. Nothing is half-written: blobs are written to `sha256-<hex>-partial-<random>`, hashed as they
are written, checked, synced and renamed; a manifest is written (temporary file and rename) only
after its blobs are in place. Partial files left by a crash are ignored and removed at the next start.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import fcntl
import hashlib
import json
import logging
import os
import pathlib
import threading
import time
import uuid
from typing import Any, Callable, Iterator

from lib.builtin_server.validation import ApiError
from lib.ollama_facts import ModelName, parse_model_name

log = logging.getLogger("builtin_server")

MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
MODEL = "application/vnd.ollama.image.model"
TEMPLATE = "application/vnd.ollama.image.template"
SYSTEM = "application/vnd.ollama.image.system"
PARAMS = "application/vnd.ollama.image.params"
LICENSE = "application/vnd.ollama.image.license"
MARKER = "builtin-store.json"
BLOCK = 1 << 20
PROGRESS_SECONDS = 0.06  # Ollama's progress cadence
PROGRESS_BYTES = 4 << 20


def digest_error(want: str, got: str) -> ApiError:
    # Ollama's errDigestMismatch (server/download.go verifyBlob)
    return ApiError(500, f"digest mismatch, file must be downloaded again: want sha256:{want}, got sha256:{got}")


@dataclasses.dataclass
class Installed:
    """One manifest of the store."""
    name: ModelName
    path: pathlib.Path
    digest: str  # sha256 of the manifest file, hex (what /api/tags calls the model's digest)
    modified_at: dt.datetime
    manifest: dict
    store: Store

    @property
    def display(self) -> str:
        return self.name.display()

    @property
    def layers(self) -> list[dict]:
        return list(self.manifest.get("layers") or [])

    def layer(self, media_type: str) -> dict | None:
        return next((layer for layer in self.layers if layer.get("mediaType") == media_type), None)

    @property
    def size(self) -> int:
        config = self.manifest.get("config") or {}
        return int(config.get("size") or 0) + sum(int(layer.get("size") or 0) for layer in self.layers)

    def blob(self, layer: dict) -> pathlib.Path:
        return self.store.blob_path(layer["digest"])

    def text(self, media_type: str) -> str | None:
        layer = self.layer(media_type)
        return None if layer is None else self.blob(layer).read_text(encoding="utf-8")

    def texts(self, media_type: str) -> list[str]:
        return [self.blob(layer).read_text(encoding="utf-8") for layer in self.layers
                if layer.get("mediaType") == media_type]

    def parameters(self) -> dict:
        text = self.text(PARAMS)
        return json.loads(text) if text else {}

    def config(self) -> dict:
        config = self.manifest.get("config") or {}
        try:
            return json.loads(self.store.blob_path(config["digest"]).read_text())
        except (KeyError, OSError, ValueError):
            return {}


class Store:
    def __init__(self, root: pathlib.Path):
        self.root = pathlib.Path(root)
        self.blobs = self.root / "blobs"
        self.manifests = self.root / "manifests"
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._lock_file = None

    # --- errors and locking ------------------------------------------------------------------------

    def io_error(self, exc: OSError, action: str) -> ApiError:
        reason = exc.strerror or str(exc)
        hint = ("free some disk space or point OCC_CACHE_DIR at a disk with room" if exc.errno == errno.ENOSPC
                else "set OCC_CACHE_DIR to a writable directory")
        return ApiError(500, f"cannot {action} in the model store {self.root} ({reason}): {hint}")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One writer at a time: threads of this server, and other servers on the same directory."""
        with self._thread_lock:
            if self._depth == 0:
                try:
                    if self.root.exists() and not self.root.is_dir():
                        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(self.root))
                    self.root.mkdir(parents=True, exist_ok=True)
                    handle = open(self.root / ".lock", "a+b")
                except OSError as exc:
                    raise self.io_error(exc, "create its lock file") from exc
                fcntl.flock(handle, fcntl.LOCK_EX)
                self._lock_file = handle
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_file is not None:
                    fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                    self._lock_file.close()
                    self._lock_file = None

    # --- paths and reading -------------------------------------------------------------------------

    def blob_path(self, digest: str) -> pathlib.Path:
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or len(hexdigest) != 64 or not all(c in "0123456789abcdef" for c in hexdigest):
            raise ApiError(500, f"invalid digest format: {digest}")
        return self.blobs / f"sha256-{hexdigest}"

    def _manifest_files(self) -> Iterator[tuple[ModelName, pathlib.Path]]:
        if not self.manifests.is_dir():
            return
        for path in self.manifests.glob("*/*/*/*"):
            if not path.is_file() or path.name.startswith("."):
                continue
            host, namespace, model, tag = path.relative_to(self.manifests).parts
            name = parse_model_name(f"{host}/{namespace}/{model}:{tag}")
            if name is not None:
                yield name, path

    def _read(self, name: ModelName, path: pathlib.Path) -> Installed | None:
        try:
            data = path.read_bytes()
            manifest = json.loads(data)
            modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
        except (OSError, ValueError) as exc:
            log.warning("ignoring the unreadable manifest %s: %s", path, exc)
            return None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("layers"), list):
            log.warning("ignoring the manifest %s: not an Ollama manifest", path)
            return None
        return Installed(name, path, hashlib.sha256(data).hexdigest(), modified, manifest, self)

    def list(self) -> list[Installed]:
        """Every model of the store, newest first (as /api/tags)."""
        found = [m for m in (self._read(n, p) for n, p in self._manifest_files()) if m is not None]
        return sorted(found, key=lambda m: m.modified_at, reverse=True)

    def find(self, name: str | ModelName) -> Installed | None:
        wanted = parse_model_name(name) if isinstance(name, str) else name
        if wanted is None:
            return None
        for candidate, path in self._manifest_files():
            if candidate.same_as(wanted):
                return self._read(candidate, path)
        return None

    def _manifest_path(self, name: ModelName) -> pathlib.Path:
        existing = self.find(name)  # keep the spelling already on disk (Ollama's getExistingName)
        if existing is not None:
            return existing.path
        return self.manifests / name.host / name.namespace / name.model / name.tag

    def referenced(self, skip: pathlib.Path | None = None) -> set[str]:
        digests: set[str] = set()
        for model in self.list():
            if skip is not None and model.path == skip:
                continue
            digests.update(layer.get("digest") for layer in model.layers)
            digests.add((model.manifest.get("config") or {}).get("digest"))
        return digests

    # --- writing -----------------------------------------------------------------------------------

    def _tmp(self, directory: pathlib.Path, prefix: str) -> pathlib.Path:
        return directory / f"{prefix}-partial-{uuid.uuid4().hex[:12]}"

    def _atomic_write(self, target: pathlib.Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp(target.parent, "." + target.name)
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def put_bytes(self, data: bytes, media_type: str, **extra: str) -> tuple[dict, str]:
        """A small blob (template, system, params, license, config): its layer and Ollama's status line."""
        hexdigest = hashlib.sha256(data).hexdigest()
        digest = f"sha256:{hexdigest}"
        path = self.blob_path(digest)
        status = "using existing layer"
        with self.locked():
            try:
                if not path.is_file() or path.stat().st_size != len(data):
                    status = "creating new layer"
                    self.blobs.mkdir(parents=True, exist_ok=True)
                    self._atomic_write(path, data)
            except OSError as exc:
                raise self.io_error(exc, "write a blob") from exc
        layer = {"mediaType": media_type, "digest": digest, "size": len(data), **extra}
        return layer, f"{status} {digest}"

    def put_file(self, files: tuple[pathlib.Path, ...], want: str,
                 progress: Callable[[int], None] = lambda n: None) -> tuple[str, int, bool]:
        """Copy the concatenation of `files` into blobs/sha256-<want>, hashing it as it goes.

        An existing blob is re-hashed instead (quick, and it repairs a damaged one). `progress` gets
        the bytes done about every 60 ms or 4 MiB. Returns (digest, size, copied). A copy whose hash
        is not `want` is deleted and raises Ollama's digest-mismatch error.
        """
        path = self.blob_path(f"sha256:{want}")
        with self.locked():
            try:
                if path.is_file():
                    got = _hash_files((path,), progress)
                    if got == want:
                        return f"sha256:{want}", path.stat().st_size, False
                    log.warning("blob %s is damaged (sha256 %s): copying it again", path.name, got)
                    path.unlink()
                self.blobs.mkdir(parents=True, exist_ok=True)
                tmp = self._tmp(self.blobs, path.name)
                try:
                    got = _hash_files(files, progress, into=tmp)
                    if got != want:
                        raise digest_error(want, got)
                    size = tmp.stat().st_size
                    os.replace(tmp, path)
                finally:
                    tmp.unlink(missing_ok=True)
            except OSError as exc:
                raise self.io_error(exc, "write the model file") from exc
        return f"sha256:{want}", size, True

    def write_manifest(self, name: ModelName, config: dict, layers: list[dict]) -> Installed:
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE, "config": config, "layers": layers}
        data = json.dumps(manifest, separators=(",", ":")).encode()
        with self.locked():
            for layer in [config, *layers]:  # a manifest only for blobs that are in place
                if not self.blob_path(layer["digest"]).is_file():
                    raise ApiError(500, f"blob {layer['digest']} is missing from the model store {self.root}")
            target = self._manifest_path(name)
            old = self._read(name, target) if target.is_file() else None
            try:
                self._atomic_write(target, data)
            except OSError as exc:
                raise self.io_error(exc, "write the manifest") from exc
            if old is not None:
                self._prune(old)
            written = self._read(name, target)
        assert written is not None
        return written

    def config_blob(self, gguf_info: Any, layers: list[dict]) -> dict:
        """Ollama's model.ConfigV2 for a GGUF model layer."""
        config = {
            "model_format": "gguf", "model_family": gguf_info.architecture,
            "model_families": [gguf_info.architecture], "model_type": gguf_info.parameter_size,
            "file_type": gguf_info.quantization, "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        }
        layer, _ = self.put_bytes(json.dumps(config, separators=(",", ":")).encode(), CONFIG_MEDIA_TYPE)
        return layer

    def _prune(self, model: Installed) -> list[str]:
        """Remove the blobs of `model` (already unlisted or replaced) that no manifest uses any more."""
        used = self.referenced()
        removed = []
        for layer in [*model.layers, model.manifest.get("config") or {}]:
            digest = layer.get("digest")
            if digest and digest not in used:
                with contextlib.suppress(FileNotFoundError, ApiError):
                    self.blob_path(digest).unlink()
                    removed.append(digest)
        return removed

    def delete(self, model: Installed) -> list[str]:
        """Remove the manifest, then the blobs nothing else uses. Returns the removed blob digests."""
        with self.locked():
            try:
                model.path.unlink()
                for parent in (model.path.parent, model.path.parent.parent, model.path.parent.parent.parent):
                    if parent == self.manifests or any(parent.iterdir()):
                        break
                    parent.rmdir()
                return self._prune(model)
            except FileNotFoundError:
                return []
            except OSError as exc:
                raise self.io_error(exc, "delete the model") from exc

    def copy(self, model: Installed, destination: ModelName) -> Installed:
        with self.locked():
            target = self._manifest_path(destination)
            try:
                self._atomic_write(target, model.path.read_bytes())
            except OSError as exc:
                raise self.io_error(exc, "write the manifest") from exc
            written = self._read(destination, target)
        assert written is not None
        return written

    def clean_partials(self) -> int:
        """Remove what a crashed write left (no writer runs while the lock is held)."""
        removed = 0
        with self.locked():
            for directory in (self.blobs, self.manifests):
                if directory.is_dir():
                    for path in directory.rglob("*-partial-*"):
                        with contextlib.suppress(OSError):
                            path.unlink()
                            removed += 1
        return removed

    # --- first start -------------------------------------------------------------------------------

    def marker(self) -> dict | None:
        try:
            return json.loads((self.root / MARKER).read_text())
        except (OSError, ValueError):
            return None

    def write_marker(self, installed: list[str]) -> None:
        data = json.dumps({"initialised_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                           "installed": installed}, indent=1).encode()
        try:
            self._atomic_write(self.root / MARKER, data)
        except OSError as exc:
            raise self.io_error(exc, "write the first-start marker") from exc


def _hash_files(files: tuple[pathlib.Path, ...], progress: Callable[[int], None],
                into: pathlib.Path | None = None) -> str:
    digest = hashlib.sha256()
    done, last_bytes, last_time = 0, 0, time.monotonic()
    out = open(into, "wb") if into is not None else None
    try:
        for path in files:
            with open(path, "rb") as f:
                while block := f.read(BLOCK):
                    digest.update(block)
                    if out is not None:
                        out.write(block)
                    done += len(block)
                    now = time.monotonic()
                    if done - last_bytes >= PROGRESS_BYTES or now - last_time >= PROGRESS_SECONDS:
                        progress(done)
                        last_bytes, last_time = done, now
        if out is not None:
            out.flush()
            os.fsync(out.fileno())
    finally:
        if out is not None:
            out.close()
    progress(done)
    return digest.hexdigest()

