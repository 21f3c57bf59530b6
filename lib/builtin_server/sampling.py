"""Per-request sampling with llama.cpp's sampler API: a chain per slot, its own seed and grammar,
plus the token-to-text helpers (pieces, stop strings) every slot needs."""
from __future__ import annotations

import ctypes
import json

from lib.builtin_server.validation import ApiError, Options


def grammar_text(output_format: str | dict | None) -> str | None:
    """`format`: "json" or a JSON Schema, as GBNF text that constrains sampling."""
    if output_format is None:
        return None
    from llama_cpp import llama_grammar

    if output_format == "json":
        return llama_grammar.JSON_GBNF
    try:
        return llama_grammar.json_schema_to_gbnf(json.dumps(output_format))
    except Exception as exc:  # the converter raises bare Exceptions for schemas it cannot express
        raise ApiError(400, f"invalid format: this JSON schema cannot be used: {exc}") from None


def sampler_chain(vocab, options: Options, seed: int, grammar: str | None, n_ctx: int):
    """A llama_sampler chain in llama-cpp-python's order (what `Llama.generate` built before):
    penalties, grammar, then greedy at temperature 0, else top_k, typical, top_p, min_p, temp, dist(seed).
    The caller frees it with llama_sampler_free."""
    import llama_cpp

    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    last_n = n_ctx if options.repeat_last_n < 0 else min(options.repeat_last_n, n_ctx)
    parts = [llama_cpp.llama_sampler_init_penalties(
        llama_cpp.llama_vocab_n_tokens(vocab), last_n, options.repeat_penalty, options.frequency_penalty,
        options.presence_penalty)]
    if grammar is not None:
        rule = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
        if not rule:
            for part in parts:
                llama_cpp.llama_sampler_free(part)
            llama_cpp.llama_sampler_free(chain)
            raise ApiError(400, "invalid format: llama.cpp could not parse its grammar")
        parts.append(rule)
    temp = options.temperature
    if temp == 0:
        parts.append(llama_cpp.llama_sampler_init_greedy())
    else:
        if temp > 0:
            parts += [llama_cpp.llama_sampler_init_top_k(min(max(options.top_k, 0), 1 << 30)),
                      llama_cpp.llama_sampler_init_typical(options.typical_p, 1),
                      llama_cpp.llama_sampler_init_top_p(options.top_p, 1),
                      llama_cpp.llama_sampler_init_min_p(options.min_p, 1),
                      llama_cpp.llama_sampler_init_temp(temp)]
        parts.append(llama_cpp.llama_sampler_init_dist(seed))
    for part in parts:
        llama_cpp.llama_sampler_chain_add(chain, part)  # the chain owns them now
    return chain


def piece(vocab, token: int) -> bytes:
    """A token's bytes."""
    import llama_cpp

    size = 64
    while True:
        buf = ctypes.create_string_buffer(size)
        # special=True, as Ollama's runner: control tokens appear as text, so stop strings such as
        # "<|im_start|>" can match them
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, size, 0, True)
        if n >= 0:
            return buf.raw[:n]
        size = -n  # too small: llama.cpp says how much it needs


def tokenize(vocab, text: bytes, add_special: bool) -> list[int]:
    """Text to tokens; special tokens in the text (<start_of_turn>...) are parsed, as Ollama does."""
    import llama_cpp

    size = len(text) + 8
    while True:
        buf = (llama_cpp.llama_token * size)()
        n = llama_cpp.llama_tokenize(vocab, text, len(text), buf, size, add_special, True)
        if n >= 0:
            return buf[:n]
        size = -n


def split_stop(held: str, stops: tuple[str, ...]) -> tuple[str, str, bool]:
    """Split `held` into (text to send, text to hold back, whether a stop string was reached)."""
    if not stops:
        return held, "", False
    hits = [held.find(s) for s in stops if s in held]
    if hits:
        return held[:min(hits)], "", True
    # Hold back the longest tail that could still grow into a stop string.
    keep = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(held)), keep, -1):
            if held.endswith(s[:n]):
                keep = n
                break
    return held[:len(held) - keep], held[len(held) - keep:], False
