"""The built-in server's overhead: eval tokens/s and time to first token, HTTP vs llama.cpp directly.

Same GGUF, prompt, options, seed, context size and thread count on both sides; runs alternate
(server, direct, server, ...) so that machine noise hits both. The server process is idle while the
direct run works, so they do not compete for the two cores. Targets: ratio >= 0.95, TTFT
overhead <= 15 ms.
"""
from __future__ import annotations

import http.client
import json
import statistics
import tempfile
import time
from pathlib import Path

ROUNDS = 7
PROMPT = "Once upon a time, in a small village by the sea, there lived"
NUM_PREDICT = 128
OPTIONS = {"seed": 42, "temperature": 0.8, "top_k": 40, "top_p": 0.9, "min_p": 0.0, "typical_p": 1.0,
           "repeat_penalty": 1.0, "num_predict": NUM_PREDICT, "num_ctx": 4096}


def over_http(url: str, model: str) -> dict:
    """One streamed generation; times measured at the client, as a user of the API sees them."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    body = json.dumps({"model": model, "prompt": PROMPT, "options": OPTIONS, "keep_alive": -1})
    started = time.perf_counter()
    conn.request("POST", "/api/generate", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    arrivals, text, final = [], [], None
    while line := response.readline():
        chunk = json.loads(line)
        if chunk["done"]:
            final = chunk
            break
        arrivals.append(time.perf_counter())
        text.append(chunk["response"])
    conn.close()
    return _result(started, arrivals, "".join(text), final)


def direct(llm) -> dict:
    """The same generation with llama-cpp-python's own streaming completion API."""
    llm.reset()  # no prompt-cache reuse: the server re-evaluates the prompt every time too
    started = time.perf_counter()
    arrivals, text = [], []
    for chunk in llm.create_completion(
            PROMPT, max_tokens=NUM_PREDICT, temperature=OPTIONS["temperature"], top_k=OPTIONS["top_k"],
            top_p=OPTIONS["top_p"], min_p=OPTIONS["min_p"], typical_p=OPTIONS["typical_p"],
            repeat_penalty=OPTIONS["repeat_penalty"], seed=OPTIONS["seed"], stream=True):
        piece = chunk["choices"][0]["text"]
        if piece:
            arrivals.append(time.perf_counter())
            text.append(piece)
    return _result(started, arrivals, "".join(text), None)


def _result(started: float, arrivals: list[float], text: str, final: dict | None) -> dict:
    tokens_per_s = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    return {"ttft_ms": (arrivals[0] - started) * 1000, "tokens_per_s": tokens_per_s, "text": text,
            "chunks": len(arrivals), "final": final}


def main() -> None:
    import llama_cpp

    from lib.builtin_server.engine import cpu_threads
    from lib.builtin_server.model import ensure_gguf
    from tests.plugins.builtin import start_builtin_server

    log = Path(tempfile.mkdtemp(prefix="bench-builtin-")) / "server.log"
    server = start_builtin_server(log)
    try:
        llm = llama_cpp.Llama(model_path=str(ensure_gguf()), n_ctx=OPTIONS["num_ctx"], n_batch=512, n_ubatch=512,
                              n_threads=cpu_threads(), n_threads_batch=cpu_threads(), verbose=False)
        over_http(server.url, server.model), direct(llm)  # warm both (load, caches)
        runs: dict[str, list[dict]] = {"http": [], "direct": []}
        for _ in range(ROUNDS):
            runs["http"].append(over_http(server.url, server.model))
            runs["direct"].append(direct(llm))
    finally:
        server.stop()

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    http_tps, direct_tps = median("http", "tokens_per_s"), median("direct", "tokens_per_s")
    http_ttft, direct_ttft = median("http", "ttft_ms"), median("direct", "ttft_ms")
    final = runs["http"][-1]["final"]
    server_tps = statistics.median(r["final"]["eval_count"] / r["final"]["eval_duration"] * 1e9 for r in runs["http"])
    same_text = all(h["text"] == d["text"] for h, d in zip(runs["http"], runs["direct"]))
    print(f"model {server.model}, {cpu_threads()} threads, prompt {final['prompt_eval_count']} tokens, "
          f"{NUM_PREDICT} generated, {ROUNDS} alternating rounds (medians)")
    print(f"  eval tokens/s   HTTP {http_tps:7.2f}   direct {direct_tps:7.2f}   ratio {http_tps / direct_tps:.3f}"
          f"   (target >= 0.95; server-reported {server_tps:.2f})")
    print(f"  first token ms  HTTP {http_ttft:7.2f}   direct {direct_ttft:7.2f}   overhead {http_ttft - direct_ttft:+.2f} ms"
          "   (target <= 15)")
    print(f"  same text over HTTP and direct with seed {OPTIONS['seed']}: {'yes' if same_text else 'NO'}")
