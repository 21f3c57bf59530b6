"""`python -m lib.builtin_server [--host 127.0.0.1] [--port 11435] [--max-queue 4]`."""
from __future__ import annotations

import argparse
import logging
import signal
import sys

from lib.builtin_server import MODEL_NAME, SERVER_NAME
from lib.builtin_server.server import Server
from lib.ollama_facts import BUILTIN_HOST, BUILTIN_PORT


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.builtin_server", description=(
        f"{SERVER_NAME}: the Ollama REST API on llama.cpp with the bundled {MODEL_NAME}."))
    parser.add_argument("--host", default=BUILTIN_HOST)
    parser.add_argument("--port", type=int, default=BUILTIN_PORT)
    parser.add_argument("--max-queue", type=int, default=4,
                        help="requests that may wait behind the running generation; more get 503 (default 4)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="[builtin] %(asctime)s %(levelname)s %(message)s")
    try:
        server = Server((args.host, args.port), max_queue=max(args.max_queue, 0))
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    # SIGTERM (the launcher and the tests stop the server with it) shuts down like Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    host, port = server.server_address[:2]
    logging.getLogger("builtin_server").info("listening on http://%s:%d (model %s)", host, port, MODEL_NAME)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
