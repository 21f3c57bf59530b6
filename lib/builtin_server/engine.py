"""llama.cpp behind Ollama's semantics: `parallel` slots, a bounded queue, keep_alive, seeds.

Reproducibility: every request starts from an empty sequence with a fresh sampler seeded from its
`seed`, so when it runs alone its text depends only on the prompt, the options and the thread
count, never on what ran before (no prefix-cache reuse: a different batch split can change the float
rounding). Requests batched together may change each other's seeded answers (see slots.py).
"""
from __future__ import annotations

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

from lib.builtin_server import sampling
from lib.builtin_server.slots import Final, Runner, quiet_llama_log
from lib.builtin_server.validation import ApiError, Options
from lib.ollama_facts import BUILTIN_NUM_PARALLEL, BUSY_MESSAGE, DEFAULT_MAX_QUEUE

if TYPE_CHECKING:
    from lib.builtin_server.library import Served

__all__ = ["ClientGone", "Engine", "Final", "Job"]

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
    tokens: list[int] | None = None  # the prompt tokenized by Engine.tokenize, before taking a slot


@dataclasses.dataclass(frozen=True)
class LoadKey:
    path: str
    num_ctx: int
    num_batch: int
    num_thread: int


class Engine:
    def __init__(self, *, max_queue: int = DEFAULT_MAX_QUEUE, parallel: int = BUILTIN_NUM_PARALLEL,
                 default_num_ctx: int = DEFAULT_NUM_CTX, threads: int | None = None):
        self.max_queue = max_queue
        self.parallel = max(parallel, 1)
        self.default_num_ctx = default_num_ctx
        self.threads = threads or cpu_threads()
        self._cond = threading.Condition()
        self._active = 0  # requests holding a slot
        self._queue: collections.deque[_Waiter] = collections.deque()  # FIFO of requests waiting for a slot
        self._vocab_lock = threading.Lock()
        self._vocabs: dict[str, object] = {}  # gguf path -> the vocabulary of a vocab-only model, for tokenizing
        self._load_lock = threading.Lock()  # one load at a time; the others admitted wait for it
        self._runner: Runner | None = None
        self._key: LoadKey | None = None  # what the admitted requests run on (loaded or being loaded)
        self._loaded: Served | None = None  # what /api/ps shows
        self._running_jobs: dict[int, Job] = {}  # by id: what evict() stops
        self._unload_after = False  # the loaded model was deleted: unload when the slots are free
        self._expires_at = 0.0          # time.monotonic() deadline, math.inf for never
        self._expires_wall: dt.datetime | None = None
        threading.Thread(target=self._reaper, name="keep-alive", daemon=True).start()

    # --- queue -------------------------------------------------------------------------------------

    def _may_enter(self, me: _Waiter) -> bool:
        """First in the queue, a free slot, and the model loaded for it (a request that needs another
        load, or an unload, waits until the slots drain: Ollama reloads too)."""
        if me.gone or not self._queue or self._queue[0] is not me or self._active >= self.parallel:
            return False
        if me.key is None or self._unload_after:  # an unload, or a model to unload first: alone
            return self._active == 0
        return self._active == 0 or self._key == me.key

    @contextlib.contextmanager
    def slot(self, cancelled: Callable[[], bool] | None = None, key: LoadKey | None = None) -> Iterator[None]:
        """Hold one of the `parallel` slots; wait in FIFO order behind at most `max_queue` others, else 503.

        A waiter whose client has gone (`cancelled()`) leaves the queue, freeing its place, and
        raises ClientGone: it is never loaded nor evaluated. `key` None asks for all the slots.
        """
        me = _Waiter(cancelled, key)
        with self._cond:
            full = self._active >= self.parallel or bool(self._queue)
            if full and len(self._queue) >= self.max_queue:
                self._drop_gone()  # clients that left must not make a live one get 503
                if len(self._queue) >= self.max_queue:
                    raise ApiError(503, BUSY_MESSAGE)
            self._queue.append(me)
            if not self._may_enter(me):
                log.info("request queued behind the running one%s (%d waiting)",
                         "s" if self._active > 1 else "", len(self._queue))
            try:
                while not self._may_enter(me):
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
            self._active += 1
            if key is not None:
                self._key = key
            self._cond.notify_all()  # the next in the queue may fit in another slot
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def _drop_gone(self) -> None:
        """Take the waiters whose client has gone out of the queue; call with self._cond held."""
        for waiter in list(self._queue):
            if waiter.cancelled is not None and waiter.cancelled():
                waiter.gone = True
                self._queue.remove(waiter)
        self._cond.notify_all()

    # --- tokenizing, outside the slots -------------------------------------------------------------

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

        path = str(model.gguf_path)
        with self._vocab_lock:
            vocab = self._vocabs.get(path)
            if vocab is None:
                if not model.gguf_path.is_file():
                    raise ApiError(404, f"model '{model.name}' not found")
                quiet_llama_log()
                params = llama_cpp.llama_model_default_params()
                params.vocab_only = True
                vocab_model = llama_cpp.llama_model_load_from_file(path.encode(), params)
                if not vocab_model:
                    raise ApiError(500, f"llama runner process has terminated: failed to load model from file: {path}")
                vocab = self._vocabs[path] = llama_cpp.llama_model_get_vocab(vocab_model)
            return vocab

    def tokenize(self, job: Job) -> None:
        """Tokenize the prompt and check it against the context, before the request takes a slot."""
        self.check_size(job.model, job.options, len(job.prompt.encode("utf-8")), len(job.context))
        vocab = self._vocab(job.model)
        import llama_cpp

        n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
        bad = next((t for t in job.context if not 0 <= t < n_vocab), None)
        if bad is not None:
            raise ApiError(400, f"invalid context: token {bad} is not in the model's vocabulary (0..{n_vocab - 1})")
        tokens = list(job.context) + sampling.tokenize(vocab, job.prompt.encode("utf-8"), not job.context)
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

    def _ensure_loaded(self, model: Served, key: LoadKey) -> Runner:
        """Load (or reload with another model or new runner options, as Ollama does); call inside slot(key)."""
        with self._load_lock:
            with self._cond:
                runner = self._runner
                if runner is not None and runner.key == key and not self._unload_after:
                    self._loaded = model
                    return runner
                self._unload()  # slot() admitted this request alone
            if not model.gguf_path.is_file():  # deleted while this request waited
                raise ApiError(404, f"model '{model.name}' not found")
            started = time.perf_counter()
            runner = Runner(key, padded_ctx(key.num_ctx), parallel=self.parallel)
            with self._cond:
                self._runner, self._loaded = runner, model
            log.info("loaded %s (%s, num_ctx=%d x %d slots, num_batch=%d, threads=%d) in %.2fs", model.name,
                     model.gguf_path.name, key.num_ctx, self.parallel, key.num_batch, key.num_thread,
                     time.perf_counter() - started)
            return runner

    def _unload(self) -> None:
        """Free the model; call with self._cond held and no request in a slot."""
        self._unload_after = False
        if self._runner is not None:
            self._runner.close()
            log.info("model %s unloaded", self._loaded.name if self._loaded else "")
            self._runner = None
            self._loaded = None

    def evict(self, deleted: Callable[[Served], bool]) -> bool:
        """A model was deleted: stop the generations running on it and unload it (now if idle, else when
        the slots are free). Returns whether a generation was running on it."""
        with self._cond:
            running = [job for job in self._running_jobs.values() if deleted(job.model)]
            for job in running:
                job.evicted = True
            if self._loaded is not None and deleted(self._loaded):
                if self._active:
                    self._unload_after = True
                else:
                    self._unload()
            return bool(running)

    def _keep(self, seconds: float) -> None:
        """A request ended: the model stays loaded `seconds` more (the latest request decides, as in Ollama)."""
        with self._cond:
            if seconds <= 0 or self._unload_after:
                if self._active == 0:
                    self._unload()
                else:  # the reaper unloads it once the other slots are free
                    self._unload_after = True
                    self._cond.notify_all()
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
                if self._runner is None or self._active or self._queue:
                    self._cond.wait()  # slot release and _keep notify
                    continue
                if self._unload_after:
                    self._unload()
                    continue
                if math.isinf(self._expires_at):
                    self._cond.wait()
                    continue
                remaining = self._expires_at - time.monotonic()
                if remaining > 0:
                    self._cond.wait(timeout=remaining)
                    continue
                log.info("keep_alive expired")
                self._unload()

    def load(self, model: Served, options: Options, keep_alive: float, started_ns: int) -> int:
        """An empty prompt: load (or with keep_alive 0 unload). Returns the load duration in ns."""
        key = self._load_key(model, options) if keep_alive > 0 else None
        with self.slot(key=key):
            if key is not None:
                self._ensure_loaded(model, key)
            load_ns = time.perf_counter_ns() - started_ns
        self._keep(keep_alive)
        return load_ns

    def running(self) -> dict | None:
        """What /api/ps needs about the loaded model, or None."""
        with self._cond:
            if self._runner is None or self._loaded is None:
                return None
            model = self._loaded
            num_ctx = self._runner.n_ctx  # per slot; llama.cpp rounds num_ctx up to a multiple of 256
            # Weights plus an f16 K and V cache for every layer at num_ctx for every slot: an
            # estimate, as Ollama's is.
            meta = model.gguf.metadata
            arch = model.gguf.architecture
            kv_per_token = 2 * meta.get(f"{arch}.attention.head_count_kv", 1) * meta.get(
                f"{arch}.attention.key_length", 256) * 2
            size = model.gguf_path.stat().st_size if model.gguf_path.exists() else 0
            size += kv_per_token * num_ctx * self.parallel * meta.get(f"{arch}.block_count", 1)
            return {"model": model, "expires_at": self._expires_wall, "context_length": num_ctx, "size": size}

    # --- generation --------------------------------------------------------------------------------

    def generate(self, job: Job, cancelled: Callable[[], bool]) -> Iterator[str | Final]:
        """Yield text pieces, then one Final. Errors before the first piece raise ApiError."""
        grammar = sampling.grammar_text(job.output_format)
        opts = job.options
        seed = opts.seed & 0xFFFFFFFF if opts.seed >= 0 else random.SystemRandom().randrange(0xFFFFFFFF)
        key = self._load_key(job.model, opts)
        admitted = False
        try:
            with self.slot(cancelled, key):
                admitted = True
                if cancelled():  # its turn came, but its client has gone: do not load nor evaluate
                    log.info("client disconnected while queued: request dropped before running")
                    raise ClientGone()
                runner = self._ensure_loaded(job.model, key)
                load_ns = time.perf_counter_ns() - job.started_ns  # like Ollama: includes the queue wait
                if job.tokens is None:
                    self.tokenize(job)
                if len(job.tokens) >= runner.n_ctx:
                    raise too_long(len(job.tokens), runner.n_ctx, job.model.context_length)
                yield from self._run(runner, job, cancelled, load_ns, seed, grammar)
        finally:
            if admitted:
                self._keep(job.keep_alive)

    def _run(self, runner: Runner, job: Job, cancelled: Callable[[], bool], load_ns: int, seed: int,
             grammar: str | None) -> Iterator[str | Final]:
        """Hand the job to a slot of the runner and pass its events on."""
        with self._cond:
            self._running_jobs[id(job)] = job
        request = runner.submit(job, cancelled, load_ns, seed, grammar)
        try:
            while True:
                request.idle.set()
                event = request.events.get()
                if event is None:  # its client has gone
                    return
                if isinstance(event, ApiError):
                    raise event
                yield event
                if isinstance(event, Final):
                    return
        finally:
            request.abandoned = True
            request.finished.wait()  # the slot's sequence is free before the slot is
            with self._cond:
                self._running_jobs.pop(id(job), None)


@dataclasses.dataclass(eq=False)
class _Waiter:
    cancelled: Callable[[], bool] | None
    key: LoadKey | None = None
    gone: bool = False
