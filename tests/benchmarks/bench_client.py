"""The client's streaming cost: a long, fast NDJSON stream read through lib/client.py vs plain
`requests` + `iter_lines` + `json.loads`, alternating in one run. Target ratio: at most 1.10.

The server sends 20,000 generate chunks, each its own HTTP chunk as Ollama sends them, from a
precomputed buffer, so the time measured is the client's reading and parsing.
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from lib.client import OllamaClient
from tests.benchmarks import alternate_medians

CHUNKS = 20_000
ROUNDS = 7


def body() -> bytes:
    parts = []
    for number in range(CHUNKS):
        line = json.dumps({"model": "gemma:2b", "created_at": "2024-04-30T15:18:52.51818509Z",
                           "response": f" palabra{number}", "done": False}, separators=(",", ":"))
        data = line.encode() + b"\n"
        parts.append(b"%x\r\n%s\r\n" % (len(data), data))
    final = json.dumps({"model": "gemma:2b", "created_at": "2024-04-30T15:18:55.9Z", "response": "",
                        "done": True, "eval_count": CHUNKS, "eval_duration": 1}).encode() + b"\n"
    parts.append(b"%x\r\n%s\r\n0\r\n\r\n" % (len(final), final))
    return b"".join(parts)


def serve(payload: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def plain(url: str) -> int:
    response = requests.post(url + "/api/generate", json={"model": "gemma:2b", "prompt": "x"}, stream=True)
    count = 0
    for line in response.iter_lines():
        json.loads(line)
        count += 1
    return count


def through_client(client: OllamaClient) -> int:
    return sum(1 for _ in client.generate("gemma:2b", "x"))


def main() -> None:
    server = serve(body())
    url = f"http://127.0.0.1:{server.server_address[1]}"
    client = OllamaClient(url)
    assert plain(url) == through_client(client) == CHUNKS + 1  # warm up, and both read everything
    plain_s, client_s = alternate_medians((lambda: plain(url), lambda: through_client(client)), ROUNDS)
    server.shutdown()
    print(f"stream of {CHUNKS} chunks, median of {ROUNDS} alternating rounds:")
    print(f"  requests iter_lines + json.loads: {plain_s * 1000:.1f} ms")
    print(f"  lib/client.py:                    {client_s * 1000:.1f} ms")
    print(f"  ratio client / plain: {client_s / plain_s:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
