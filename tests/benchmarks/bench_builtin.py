"""The built-in server's overhead for each bundled model: eval tokens/s and time to first token,
HTTP vs llama.cpp directly; and the time to the complete answer of "What is the capital of France?"
on smollm2:135m (num_predict 128).

Same GGUF, prompt (raw: no template on either side), options, seed, context size and thread count on
both sides; runs alternate (server, direct, server, ...) so that machine noise hits both. The server
process is idle while the direct run works, so they do not compete for the two cores. Targets: ratio
>= 0.95 for each model, TTFT overhead <= 15 ms.
"""
from __future__ import annotations

import http.client
import json
import os
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
    body = json.dumps({"model": model, "prompt": PROMPT, "raw": True, "options": OPTIONS, "keep_alive": -1})
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


QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def answer_time(url: str, model: str, options: dict) -> tuple[float, dict]:
    """Seconds from sending the question to the last chunk of the answer (streamed chat)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    body = json.dumps({"model": model, "messages": QUESTION, "keep_alive": -1,
                       "options": {"num_predict": 128, **options}})
    started = time.perf_counter()
    conn.request("POST", "/api/chat", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    text, final = [], {}
    while line := response.readline():
        chunk = json.loads(line)
        if chunk["done"]:
            final = chunk
            break
        text.append(chunk["message"]["content"])
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, {**final, "text": "".join(text)}


def compare(server, llama_cpp, model: str, gguf: Path) -> None:
    from lib.builtin_server.engine import cpu_threads

    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=OPTIONS["num_ctx"], n_batch=512, n_ubatch=512,
                          n_threads=cpu_threads(), n_threads_batch=cpu_threads(), verbose=False)
    try:
        over_http(server.url, model), direct(llm)  # warm both (load, caches)
        runs: dict[str, list[dict]] = {"http": [], "direct": []}
        for _ in range(ROUNDS):
            runs["http"].append(over_http(server.url, model))
            runs["direct"].append(direct(llm))
    finally:
        llm.close()

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    http_tps, direct_tps = median("http", "tokens_per_s"), median("direct", "tokens_per_s")
    http_ttft, direct_ttft = median("http", "ttft_ms"), median("direct", "ttft_ms")
    final = runs["http"][-1]["final"]
    server_tps = statistics.median(r["final"]["eval_count"] / r["final"]["eval_duration"] * 1e9 for r in runs["http"])
    same_text = all(h["text"] == d["text"] for h, d in zip(runs["http"], runs["direct"]))
    print(f"model {model}, {cpu_threads()} threads, prompt {final['prompt_eval_count']} tokens, "
          f"{final['eval_count']} generated, {ROUNDS} alternating rounds (medians)")
    print(f"  eval tokens/s   HTTP {http_tps:7.2f}   direct {direct_tps:7.2f}   ratio {http_tps / direct_tps:.3f}"
          f"   (target >= 0.95; server-reported {server_tps:.2f})")
    print(f"  first token ms  HTTP {http_ttft:7.2f}   direct {direct_ttft:7.2f}   overhead {http_ttft - direct_ttft:+.2f} ms"
          "   (target <= 15)")
    print(f"  same text over HTTP and direct with seed {OPTIONS['seed']}: {'yes' if same_text else 'NO'}")


def main() -> None:
    import shutil

    import llama_cpp

    from lib.builtin_server import BASE_MODEL, INSTRUCT_MODEL
    from lib.builtin_server.bundled import find_bundle
    from tests.plugins.builtin import STORES, start_builtin_server

    store = STORES / f"bench-store-{os.getpid()}"
    log = Path(tempfile.mkdtemp(prefix="bench-builtin-")) / "server.log"
    server = start_builtin_server(log, store=store)
    try:
        for model in (INSTRUCT_MODEL, BASE_MODEL):
            gguf = store / "blobs" / f"sha256-{find_bundle(model).source().sha256}"
            compare(server, llama_cpp, model, gguf)
        cold, _ = answer_time(server.url, INSTRUCT_MODEL, {"temperature": 0})  # includes loading it again
        print(f"'What is the capital of France?' on {INSTRUCT_MODEL}, num_predict 128, streamed chat, "
              f"complete answer (median of {ROUNDS}, model loaded; the first, with the load: {cold:.3f} s):")
        for label, options in (("temperature 0", {"temperature": 0}), ("default options, seed 42", {"seed": 42})):
            warm = [answer_time(server.url, INSTRUCT_MODEL, options) for _ in range(ROUNDS)]
            last = warm[-1][1]
            print(f"  {label:<25} {statistics.median(t for t, _ in warm):.3f} s, {last['eval_count']} tokens, "
                  f"done_reason {last['done_reason']}: {last['text'][:70]!r}")
    finally:
        server.stop()
        shutil.rmtree(store, ignore_errors=True)
