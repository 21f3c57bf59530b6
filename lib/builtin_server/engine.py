"""llama.cpp behind Ollama's semantics: one generation at a time, a bounded queue, keep_alive, seeds.

Reproducibility: every request clears the KV cache and builds a fresh sampler seeded from its
`seed`, so the text depends only on the prompt, the options and the thread count, never on what
ran before (no prefix-cache reuse: a different batch split can change the float rounding).
"""
from __future__ import annotations

import codecs
import collections
import contextlib
import dataclasses
import datetime as dt
import logging
import math
import os
import random
import threading
import time
from typing import TYPE_CHECKING, Callable, Iterator

from lib.builtin_server.validation import ApiError, Options
from lib.ollama_facts import BUSY_MESSAGE, DEFAULT_MAX_QUEUE

if TYPE_CHECKING:
    from lib.builtin_server.library import Served

log = logging.getLogger("builtin_server")

# What this server chooses when a request leaves num_ctx or num_batch unset (512: Ollama's own batch)
DEFAULT_NUM_CTX = 4096
DEFAULT_NUM_BATCH = 512
MIN_NUM_CTX = 64
# A generous bound on the bytes of one token: the longest token of the bundled vocabularies is 81
# bytes (SmolLM2's; Gemma 3's 48), so a prompt of more than num_ctx x 128 bytes cannot fit and is
# refused before it is tokenized.
MAX_BYTES_PER_TOKEN = 128
QUEUE_POLL = 0.2  # seconds between checks that a queued request's client is still there


class ClientGone(Exception):
    """The client closed the connection; stop working for it."""


def padded_ctx(num_ctx: int) -> int:
    """llama.cpp's context is num_ctx rounded up to a multiple of 256."""
    return -(-num_ctx // 256) * 256


def too_long(n_tokens: int, n_ctx: int, trained: int) -> ApiError:
    return ApiError(400, (
        f"the prompt is {n_tokens} tokens long, which does not fit the context window "
        f"of {n_ctx} tokens (num_ctx): shorten the prompt or the conversation, or raise "
        f"options.num_ctx (at most {trained})"))


def cpu_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclasses.dataclass
class Job:
    """One generation: the model, the prompt text (already templated) and everything that shapes the answer."""
    model: Served
    prompt: str
    options: Options
    keep_alive: float  # seconds; 0 unloads after the request, math.inf keeps forever
    started_ns: int  # when the request arrived (time.perf_counter_ns), for total/load durations
    context: list[int] = dataclasses.field(default_factory=list)
    output_format: str | dict | None = None
    evicted: bool = False  # set when the model is deleted while this job runs
    tokens: list[int] | None = None  # the prompt tokenized by Engine.tokenize, before taking the slot


@dataclasses.dataclass
class Final:
    """The measured end of a generation (durations in integer nanoseconds, as Ollama reports)."""
    done_reason: str
    context: list[int]
    total_duration: int
    load_duration: int
    prompt_eval_count: int
    prompt_eval_duration: int
    eval_count: int
    eval_duration: int


@dataclasses.dataclass(frozen=True)
class LoadKey:
    path: str
    num_ctx: int
    num_batch: int
    num_thread: int


class Engine:
    def __init__(self, *, max_queue: int = DEFAULT_MAX_QUEUE, default_num_ctx: int = DEFAULT_NUM_CTX,
                 threads: int | None = None):
        self.max_queue = max_queue
        self.default_num_ctx = default_num_ctx
        self.threads = threads or cpu_threads()
        self._cond = threading.Condition()
        self._busy = False
        self._queue: collections.deque[_Waiter] = collections.deque()  # FIFO of requests waiting for the slot
        self._vocab_lock = threading.Lock()
        self._vocabs: dict[str, object] = {}  # gguf path -> a vocabulary-only llama_model, for tokenizing
        self._llm = None
        self._key: LoadKey | None = None
        self._loaded: Served | None = None  # what /api/ps shows
        self._job: Job | None = None  # the generation that holds the slot
        self._unload_after = False  # the loaded model was deleted: unload when the slot is free
        self._expires_at = 0.0          # time.monotonic() deadline, math.inf for never
        self._expires_wall: dt.datetime | None = None
        threading.Thread(target=self._reaper, name="keep-alive", daemon=True).start()

    # --- queue -------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def slot(self, cancelled: Callable[[], bool] | None = None) -> Iterator[None]:
        """Run alone; wait in FIFO order behind at most `max_queue` others, else 503.

        A waiter whose client has gone (`cancelled()`) leaves the queue, freeing its place, and
        raises ClientGone: it is never loaded nor evaluated.
        """
        me = _Waiter(cancelled)
        with self._cond:
            if self._busy and len(self._queue) >= self.max_queue:
                self._drop_gone()  # clients that left must not make a live one get 503
                if len(self._queue) >= self.max_queue:
                    raise ApiError(503, BUSY_MESSAGE)
            self._queue.append(me)
            if self._busy:
                log.info("request queued behind the running one (%d waiting)", len(self._queue))
            try:
                while self._busy or self._queue[0] is not me:
                    self._cond.wait(timeout=QUEUE_POLL if cancelled else None)
                    if me.gone or (cancelled is not None and cancelled()):
                        log.info("client disconnected while queued: request dropped before running")
                        raise ClientGone()
            except BaseException:
                if me in self._queue:
                    self._queue.remove(me)
                self._cond.notify_all()
                raise
            self._queue.popleft()
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _drop_gone(self) -> None:
        """Take the waiters whose client has gone out of the queue; call with self._cond held."""
        for waiter in list(self._queue):
            if waiter.cancelled is not None and waiter.cancelled():
                waiter.gone = True
                self._queue.remove(waiter)
        self._cond.notify_all()

    # --- tokenizing, outside the slot --------------------------------------------------------------

    def num_ctx(self, model: Served, options: Options) -> int:
        """The context a request will get (what llama.cpp allocates for its num_ctx)."""
        num_ctx = options.num_ctx or self.default_num_ctx
        return padded_ctx(min(max(num_ctx, MIN_NUM_CTX), model.context_length))

    def check_size(self, model: Served, options: Options, n_bytes: int, n_context: int = 0) -> None:
        """Refuse, before tokenizing, text that cannot fit the context whatever its tokens."""
        n_ctx = self.num_ctx(model, options)
        if n_context >= n_ctx:
            raise too_long(n_context, n_ctx, model.context_length)
        if n_bytes > (n_ctx - n_context) * MAX_BYTES_PER_TOKEN:
            raise ApiError(400, (
                f"the prompt is {n_bytes} bytes long, more than the context window of {n_ctx} tokens "
                f"(num_ctx) can hold: shorten the prompt or the conversation, or raise options.num_ctx "
                f"(at most {model.context_length})"))

    def _vocab(self, model: Served):
        """A vocabulary-only copy of the model (no weights, no context): tokenizing with it needs no slot."""
        import llama_cpp
        from llama_cpp import _internals

        path = str(model.gguf_path)
        with self._vocab_lock:
            vocab = self._vocabs.get(path)
            if vocab is None:
                if not model.gguf_path.is_file():
                    raise ApiError(404, f"model '{model.name}' not found")
                params = llama_cpp.llama_model_default_params()
                params.vocab_only = True
                try:
                    vocab = _internals.LlamaModel(path_model=path, params=params, verbose=False)
                except ValueError as exc:
                    raise ApiError(500, f"llama runner process has terminated: {exc}") from None
                self._vocabs[path] = vocab
            return vocab

    def tokenize(self, job: Job) -> None:
        """Tokenize the prompt and check it against the context, before the request takes the slot."""
        self.check_size(job.model, job.options, len(job.prompt.encode("utf-8")), len(job.context))
        vocab = self._vocab(job.model)
        import llama_cpp

        n_vocab = llama_cpp.llama_vocab_n_tokens(vocab.vocab)
        bad = next((t for t in job.context if not 0 <= t < n_vocab), None)
        if bad is not None:
            raise ApiError(400, f"invalid context: token {bad} is not in the model's vocabulary (0..{n_vocab - 1})")
        # Special tokens in the text (<start_of_turn>...) are parsed, as Ollama does.
        tokens = list(job.context) + vocab.tokenize(job.prompt.encode("utf-8"), not job.context, True)
        n_ctx = self.num_ctx(job.model, job.options)
        if len(tokens) >= n_ctx:
            raise too_long(len(tokens), n_ctx, job.model.context_length)
        job.tokens = tokens

    # --- loading and keep_alive --------------------------------------------------------------------

    def _load_key(self, model: Served, options: Options) -> LoadKey:
        trained = model.context_length
        num_ctx = options.num_ctx or self.default_num_ctx
        if not MIN_NUM_CTX <= num_ctx <= trained:
            log.warning("num_ctx %d clamped to [%d, %d]", num_ctx, MIN_NUM_CTX, trained)
            num_ctx = min(max(num_ctx, MIN_NUM_CTX), trained)
        num_thread = options.num_thread if 0 < options.num_thread <= self.threads else self.threads
        num_batch = options.num_batch or DEFAULT_NUM_BATCH
        return LoadKey(str(model.gguf_path), num_ctx, min(max(num_batch, 1), num_ctx), num_thread)

    def _ensure_loaded(self, model: Served, options: Options):
        """Load (or reload with another model or new runner options, as Ollama does); call inside slot()."""
        key = self._load_key(model, options)
        if self._llm is not None and self._key == key:
            with self._cond:
                self._loaded = model
            return self._llm
        with self._cond:
            self._unload()
        import llama_cpp  # deferred: importing this package must not need llama.cpp

        if not model.gguf_path.is_file():  # deleted while this request waited
            raise ApiError(404, f"model '{model.name}' not found")
        started = time.perf_counter()
        try:
            llm = llama_cpp.Llama(
                model_path=str(model.gguf_path), n_ctx=key.num_ctx, n_batch=key.num_batch, n_ubatch=key.num_batch,
                n_threads=key.num_thread, n_threads_batch=key.num_thread, n_gpu_layers=0, verbose=False)
        except ValueError as exc:  # llama-cpp-python's "Failed to load model from file"
            raise ApiError(500, f"llama runner process has terminated: {exc}") from None
        with self._cond:
            self._llm, self._key, self._loaded = llm, key, model
        log.info("loaded %s (%s, num_ctx=%d, num_batch=%d, threads=%d) in %.2fs", model.name, model.gguf_path.name,
                 key.num_ctx, key.num_batch, key.num_thread, time.perf_counter() - started)
        return llm

    def _unload(self) -> None:
        """Free the model; call with self._cond held."""
        self._unload_after = False
        if self._llm is not None:
            self._llm.close()
            log.info("model %s unloaded", self._loaded.name if self._loaded else "")
            self._llm = None
            self._key = None
            self._loaded = None

    def evict(self, deleted: Callable[[Served], bool]) -> bool:
        """A model was deleted: stop a generation running on it and unload it (now if idle, else when
        the running request ends). Returns whether a generation was running on it."""
        with self._cond:
            running = self._job is not None and deleted(self._job.model)
            if running:
                self._job.evicted = True
            if self._loaded is not None and deleted(self._loaded):
                if self._busy:
                    self._unload_after = True
                else:
                    self._unload()
            return running

    def _keep(self, seconds: float) -> None:
        with self._cond:
            if seconds <= 0 or self._unload_after:
                self._unload()
                return
            if math.isinf(seconds):
                self._expires_at = math.inf
                # Ollama shows "forever" as the farthest time.Duration, about 292 years ahead.
                self._expires_wall = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=292 * 365)
            else:
                self._expires_at = time.monotonic() + seconds
                self._expires_wall = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
            self._cond.notify_all()

    def _reaper(self) -> None:
        with self._cond:
            while True:
                if self._llm is None or self._busy or math.isinf(self._expires_at):
                    self._cond.wait()  # slot release and _keep notify
                    continue
                remaining = self._expires_at - time.monotonic()
                if remaining > 0:
                    self._cond.wait(timeout=remaining)
                    continue
                log.info("keep_alive expired")
                self._unload()

    def load(self, model: Served, options: Options, keep_alive: float, started_ns: int) -> int:
        """An empty prompt: load (or with keep_alive 0 unload). Returns the load duration in ns."""
        with self.slot():
            if keep_alive > 0:
                self._ensure_loaded(model, options)
            load_ns = time.perf_counter_ns() - started_ns
            self._keep(keep_alive)
        return load_ns

    def running(self) -> dict | None:
        """What /api/ps needs about the loaded model, or None."""
        with self._cond:
            if self._llm is None or self._loaded is None:
                return None
            model = self._loaded
            num_ctx = self._llm.n_ctx()  # llama.cpp rounds num_ctx up to a multiple of 256
            # Weights plus an f16 K and V cache for every layer at num_ctx (llama-cpp-python
            # allocates a full-size sliding-window cache too): an estimate, as Ollama's is.
            meta = model.gguf.metadata
            arch = model.gguf.architecture
            kv_per_token = 2 * meta.get(f"{arch}.attention.head_count_kv", 1) * meta.get(
                f"{arch}.attention.key_length", 256) * 2
            size = model.gguf_path.stat().st_size if model.gguf_path.exists() else 0
            size += kv_per_token * num_ctx * meta.get(f"{arch}.block_count", 1)
            return {"model": model, "expires_at": self._expires_wall, "context_length": num_ctx, "size": size}

    # --- generation --------------------------------------------------------------------------------

    def generate(self, job: Job, cancelled: Callable[[], bool]) -> Iterator[str | Final]:
        """Yield text pieces, then one Final. Errors before the first piece raise ApiError."""
        with self.slot(cancelled):
            if cancelled():  # its turn came, but its client has gone: do not load nor evaluate
                log.info("client disconnected while queued: request dropped before running")
                raise ClientGone()
            llm = self._ensure_loaded(job.model, job.options)
            load_ns = time.perf_counter_ns() - job.started_ns  # like Ollama: includes the queue wait
            with self._cond:
                self._job = job
            try:
                yield from self._generate(llm, job, cancelled, load_ns)
            finally:
                with self._cond:
                    self._job = None
                self._keep(job.keep_alive)

    def _generate(self, llm, job: Job, cancelled, load_ns: int) -> Iterator[str | Final]:
        import llama_cpp

        opts = job.options
        n_ctx = llm.n_ctx()
        tokens = job.tokens if job.tokens is not None else self._prompt_tokens(llm, job)
        if len(tokens) >= n_ctx:
            raise too_long(len(tokens), n_ctx, job.model.context_length)
        grammar = _grammar(job.output_format)
        seed = opts.seed & 0xFFFFFFFF if opts.seed >= 0 else random.SystemRandom().randrange(0xFFFFFFFF)
        # n_tokens = 0: the first decode drops every KV cell (llama.cpp masks them out; zeroing the
        # whole cache with kv_cache_clear would cost ~10 ms of memset per request for nothing).
        llm.reset()
        llm.set_seed(seed)
        llm.last_n_tokens_size = n_ctx if opts.repeat_last_n < 0 else min(opts.repeat_last_n, n_ctx)
        vocab = llm._model.vocab
        limit = n_ctx - len(tokens)  # stop with "length" when the context is full
        if opts.num_predict >= 0:
            limit = min(limit, opts.num_predict)

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        held = ""  # decoded text not yet sent: it may be the start of a stop string
        generated: list[int] = []
        done_reason = "length"
        started = time.perf_counter_ns()
        first_ns = None
        # The prompt is evaluated n_batch tokens at a time (the split llm.eval makes, so the numbers
        # are the same), checking between batches that the client is still there; llm.generate
        # evaluates the last batch, then alternates sample / decode. Like llama.cpp's server,
        # prompt_eval_duration runs to the first sampled token, eval_duration from there.
        evaluated = 0
        while len(tokens) - evaluated > llm.n_batch:
            llm.eval(tokens[evaluated:evaluated + llm.n_batch])
            evaluated += llm.n_batch
            if job.evicted:
                raise ApiError(404, f"model '{job.model.name}' was deleted while it was generating")
            if cancelled():
                log.info("client disconnected during prompt evaluation (%d of %d tokens evaluated)",
                         evaluated, len(tokens))
                return
        if limit > 0:
            tokens_iter = llm.generate(
                tokens[evaluated:], top_k=min(max(opts.top_k, 0), 1 << 30), top_p=opts.top_p, min_p=opts.min_p,
                typical_p=opts.typical_p, temp=opts.temperature, repeat_penalty=opts.repeat_penalty,
                presence_penalty=opts.presence_penalty, frequency_penalty=opts.frequency_penalty,
                reset=False, grammar=grammar)
        else:  # num_predict 0: the prompt is still evaluated, as Ollama does
            llm.eval(tokens[evaluated:])
            tokens_iter = (t for t in ())
        stop_hit = False
        try:
            for token in tokens_iter:
                if first_ns is None:
                    first_ns = time.perf_counter_ns()
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    done_reason = "stop"
                    break
                generated.append(token)
                held += decoder.decode(_piece(vocab, token))
                text, held, stop_hit = _split_stop(held, opts.stop)
                if text:
                    yield text
                if stop_hit:
                    done_reason = "stop"
                    break
                if len(generated) >= limit:
                    break
                if job.evicted:
                    log.info("model %s deleted: generation stopped after %d tokens", job.model.name, len(generated))
                    raise ApiError(404, f"model '{job.model.name}' was deleted while it was generating")
                if cancelled():
                    log.info("client disconnected: generation stopped after %d tokens", len(generated))
                    return
        finally:
            tokens_iter.close()
        tail = "" if stop_hit else held + decoder.decode(b"", final=True)
        if tail:
            yield tail
        end = time.perf_counter_ns()
        first_ns = first_ns or end
        yield Final(
            done_reason=done_reason,
            context=tokens + generated,
            total_duration=end - job.started_ns,
            load_duration=load_ns,
            prompt_eval_count=len(tokens),
            prompt_eval_duration=first_ns - started,
            eval_count=len(generated),
            eval_duration=end - first_ns,
        )

    def _prompt_tokens(self, llm, job: Job) -> list[int]:
        n_vocab = llm.n_vocab()
        bad = next((t for t in job.context if not 0 <= t < n_vocab), None)
        if bad is not None:
            raise ApiError(400, f"invalid context: token {bad} is not in the model's vocabulary (0..{n_vocab - 1})")
        # Special tokens in the text (<start_of_turn>...) are parsed, as Ollama does.
        new = llm.tokenize(job.prompt.encode("utf-8"), add_bos=not job.context, special=True)
        return list(job.context) + new


@dataclasses.dataclass(eq=False)
class _Waiter:
    cancelled: Callable[[], bool] | None
    gone: bool = False


def _piece(vocab, token: int) -> bytes:
    """A token's bytes (llama-cpp-python's own token_to_piece returns a NUL-padded 32-byte buffer)."""
    import ctypes

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


def _split_stop(held: str, stops: tuple[str, ...]) -> tuple[str, str, bool]:
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


def _grammar(output_format: str | dict | None):
    """`format`: "json" or a JSON Schema, as a llama.cpp grammar that constrains sampling."""
    if output_format is None:
        return None
    import json

    from llama_cpp import llama_grammar

    if output_format == "json":
        return llama_grammar.LlamaGrammar.from_string(llama_grammar.JSON_GBNF, verbose=False)
    try:
        return llama_grammar.LlamaGrammar.from_json_schema(json.dumps(output_format), verbose=False)
    except Exception as exc:  # the converter raises bare Exceptions for schemas it cannot express
        raise ApiError(400, f"invalid format: this JSON schema cannot be used: {exc}") from None
