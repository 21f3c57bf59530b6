"""Parallel slots: one llama.cpp context per loaded model holding one sequence per slot, and a
scheduler thread that advances them together with llama.cpp's batch API.

Each step builds one llama_batch from every active slot (a token for each slot that is decoding,
then prompt chunks of the slots still evaluating, at most n_batch tokens in all), calls
llama_decode once, then samples each slot with its own sampler chain. A finished slot's KV cells
are cleared, so the next request in it starts from an empty sequence.

Reproducibility: a request running alone is evaluated and sampled the same way every time (same
prompt split, fresh seeded sampler, empty sequence). Batched with others its seeded answer may
differ: the matrix shapes change the float rounding (Ollama's docs and its issue 4990 say so too).
"""
from __future__ import annotations

import codecs
import concurrent.futures
import ctypes
import dataclasses
import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Callable

from lib.builtin_server import sampling
from lib.builtin_server.validation import ApiError

if TYPE_CHECKING:
    from lib.builtin_server.engine import Job, LoadKey

log = logging.getLogger("builtin_server")

GGML_LOG_LEVEL_ERROR = 4
# Before each decode the scheduler lets the HTTP threads write the last tokens (up to this many
# seconds): llama.cpp's threads use every core, and a thread preempted by a write stalls the step.
WRITE_WAIT = 0.005


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


class Request:
    """One generation in a slot. The scheduler thread puts its text pieces, then a Final (or an
    ApiError, or None when its client has gone) on `events`; `finished` is set once its slot is free."""

    def __init__(self, job: Job, cancelled: Callable[[], bool], load_ns: int, seq: int, chain, limit: int):
        self.job = job
        self.cancelled = cancelled
        self.load_ns = load_ns
        self.seq = seq
        self.chain = chain
        self.limit = limit  # tokens it may generate (num_predict, or what is left of its context)
        self.tokens: list[int] = job.tokens or []
        self.events: queue.Queue = queue.Queue()
        self.finished = threading.Event()
        self.abandoned = False  # set by the HTTP thread when it stops reading events
        self.idle = threading.Event()  # set by the HTTP thread while it waits for the next event
        self.evaluated = 0  # prompt tokens in the KV cache
        self.generated: list[int] = []
        self.next_token: int | None = None  # sampled, to be decoded in the next step
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.held = ""  # decoded text not yet sent: it may be the start of a stop string
        self.started = time.perf_counter_ns()
        self.first_ns: int | None = None


class Runner:
    """A loaded model: its llama context of `parallel` sequences and the scheduler thread."""

    def __init__(self, key: LoadKey, n_ctx: int, *, parallel: int):
        import llama_cpp

        quiet_llama_log()
        self.key = key
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = 0
        self.model = llama_cpp.llama_model_load_from_file(key.path.encode(), params)
        if not self.model:
            raise ApiError(500, f"llama runner process has terminated: failed to load model from file: {key.path}")
        cparams = llama_cpp.llama_context_default_params()
        # Like Ollama, the KV cache holds num_ctx tokens for each slot.
        cparams.n_ctx = n_ctx * parallel
        cparams.n_seq_max = parallel
        cparams.kv_unified = False  # each sequence its own num_ctx cells
        cparams.n_batch = cparams.n_ubatch = n_batch = max(key.num_batch, parallel)
        cparams.n_threads = cparams.n_threads_batch = key.num_thread
        self.ctx = llama_cpp.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            llama_cpp.llama_model_free(self.model)
            raise ApiError(500, "llama runner process has terminated: failed to create the context")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.n_ctx = llama_cpp.llama_n_ctx_seq(self.ctx)  # each sequence's context (num_ctx, padded)
        self.n_batch = n_batch
        self.parallel = parallel
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._cond = threading.Condition()
        self._free = list(range(parallel))  # sequence ids of free slots
        self._active: list[Request] = []
        self._closing = False
        # Sampling a slot scans the whole vocabulary (262,144 tokens for Gemma 3): about 1 ms each. With
        # several slots, half are sampled on a second thread (ctypes calls release the GIL).
        self._second = concurrent.futures.ThreadPoolExecutor(1, "slots-sample")
        self._thread = threading.Thread(target=self._loop, name="slots", daemon=True)
        self._thread.start()

    # --- called by the HTTP threads ----------------------------------------------------------------

    def submit(self, job: Job, cancelled: Callable[[], bool], load_ns: int, seed: int,
               grammar: str | None) -> Request:
        """Start `job` in a free slot (the engine admits at most `parallel` requests at once)."""
        opts = job.options
        limit = self.n_ctx - len(job.tokens)  # stop with "length" when its context is full
        if opts.num_predict >= 0:
            limit = min(limit, opts.num_predict)
        chain = sampling.sampler_chain(self.vocab, opts, seed, grammar, self.n_ctx)
        with self._cond:
            seq = min(self._free)  # the lowest: llama.cpp splits a batch whose sequences are out of order
            self._free.remove(seq)
            request = Request(job, cancelled, load_ns, seq, chain, limit)
            self._active.append(request)
            self._cond.notify_all()
        return request

    def busy(self) -> int:
        with self._cond:
            return len(self._active)

    def close(self) -> None:
        """Stop the scheduler (ending what still runs) and free the context and the model."""
        import llama_cpp

        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        self._second.shutdown()
        for request in list(self._active):
            self._finish(request, None)
        llama_cpp.llama_batch_free(self.batch)
        llama_cpp.llama_free(self.ctx)
        llama_cpp.llama_model_free(self.model)

    # --- the scheduler thread ----------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._active and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                active = list(self._active)
            deadline = time.monotonic() + WRITE_WAIT
            for request in active:
                request.idle.wait(max(deadline - time.monotonic(), 0))
            try:
                self._step(active)
            except Exception as exc:  # a bug: end every slot with an error, keep serving
                log.exception("the slot scheduler failed")
                for request in active:
                    if not request.finished.is_set():
                        self._finish(request, ApiError(500, f"internal error: {type(exc).__name__}: {exc}"))

    def _step(self, active: list[Request]) -> None:
        import llama_cpp

        running = [r for r in active if not self._ended_outside(r)]
        batch = self.batch
        n = 0
        outputs: list[tuple[Request, int]] = []  # the slots to sample, with their batch index

        def add(token: int, pos: int, seq: int, logits: bool) -> None:
            nonlocal n
            batch.token[n] = token
            batch.pos[n] = pos
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = seq
            batch.logits[n] = logits
            n += 1

        # One token for each slot that is generating, in sequence order: llama.cpp decodes a batch whose
        # sequences are out of order in several passes (1.5x the time of one for 4 slots).
        running.sort(key=lambda request: request.seq)
        for request in running:
            if request.next_token is not None:
                add(request.next_token, len(request.tokens) + len(request.generated) - 1, request.seq, True)
                outputs.append((request, n - 1))
        for request in sorted(running, key=lambda request: request.started):  # then prompts, oldest first,
            left = len(request.tokens) - request.evaluated
            take = min(left, self.n_batch - n)  # within n_batch in all
            if left == 0 or take <= 0:
                continue
            start = request.evaluated
            for i in range(start, start + take):
                add(request.tokens[i], i, request.seq, i == len(request.tokens) - 1)
            request.evaluated += take
            if request.evaluated == len(request.tokens):
                outputs.append((request, n - 1))
        if n == 0:
            return
        batch.n_tokens = n
        status = llama_cpp.llama_decode(self.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status}")
        sampled = []
        for request, index in outputs:
            if request.limit <= 0:  # num_predict 0: the prompt is evaluated, nothing generated
                self._finish(request, self._final(request, "length"))
            else:
                sampled.append((request, index))
        for (request, _), token in zip(sampled, self._sample(sampled)):
            self._accept(request, token)

    def _sample(self, outputs: list[tuple[Request, int]]) -> list[int]:
        """Each slot's next token, from its own chain: half of the slots on this thread, the rest on
        the second one, in parallel. Each chain has its own state and seed, so the tokens are the same as
        sampled one after another."""
        import llama_cpp

        def sample(output: tuple[Request, int]) -> int:
            request, index = output
            return llama_cpp.llama_sampler_sample(request.chain, self.ctx, index)

        if len(outputs) < 2 or self.key.num_thread < 2:
            return [sample(output) for output in outputs]
        for _, index in outputs:  # llama.cpp syncs and orders its outputs on the first read: once, here
            llama_cpp.llama_get_logits_ith(self.ctx, index)
        half = len(outputs) // 2
        elsewhere = self._second.submit(lambda: [sample(output) for output in outputs[half:]])
        here = [sample(output) for output in outputs[:half]]
        return here + elsewhere.result()

    def _ended_outside(self, request: Request) -> bool:
        """Finish a request whose client has gone or whose model was deleted; True if so."""
        job = request.job
        if job.evicted:
            log.info("model %s deleted: generation stopped after %d tokens", job.model.name, len(request.generated))
            self._finish(request, ApiError(404, f"model '{job.model.name}' was deleted while it was generating"))
            return True
        if request.abandoned or request.cancelled():
            if request.evaluated < len(request.tokens):
                log.info("client disconnected during prompt evaluation (%d of %d tokens evaluated)",
                         request.evaluated, len(request.tokens))
            else:
                log.info("client disconnected: generation stopped after %d tokens", len(request.generated))
            self._finish(request, None)
            return True
        return False

    def _accept(self, request: Request, token: int) -> None:
        """A sampled token: send its text, or end the request (end of generation, stop string, limit)."""
        import llama_cpp

        if request.first_ns is None:
            request.first_ns = time.perf_counter_ns()
        if llama_cpp.llama_vocab_is_eog(self.vocab, token):
            self._finish(request, self._final(request, "stop"))
            return
        request.generated.append(token)
        request.held += request.decoder.decode(sampling.piece(self.vocab, token))
        text, request.held, stop_hit = sampling.split_stop(request.held, request.job.options.stop)
        if text:
            request.idle.clear()
            request.events.put(text)
        if stop_hit:
            self._finish(request, self._final(request, "stop", tail=False))
        elif len(request.generated) >= request.limit:
            self._finish(request, self._final(request, "length"))
        else:
            request.next_token = token

    def _final(self, request: Request, done_reason: str, tail: bool = True) -> Final:
        if tail:
            text = request.held + request.decoder.decode(b"", final=True)
            if text:
                request.events.put(text)
        end = time.perf_counter_ns()
        # Like llama.cpp's server, prompt_eval_duration runs to the first sampled token, eval_duration from there.
        first = request.first_ns or end
        return Final(
            done_reason=done_reason,
            context=request.tokens + request.generated,
            total_duration=end - request.job.started_ns,
            load_duration=request.load_ns,
            prompt_eval_count=len(request.tokens),
            prompt_eval_duration=first - request.started,
            eval_count=len(request.generated),
            eval_duration=end - first,
        )

    def _finish(self, request: Request, last: Final | ApiError | None) -> None:
        """Free the slot: clear its KV cells and its sampler, then hand the last event over."""
        import llama_cpp

        llama_cpp.llama_memory_seq_rm(self.memory, request.seq, -1, -1)
        llama_cpp.llama_sampler_free(request.chain)
        with self._cond:
            self._active.remove(request)
            self._free.append(request.seq)
        request.events.put(last)
        request.finished.set()


_log_callback = None


def quiet_llama_log() -> None:
    """llama.cpp's own messages: errors only, into this server's log."""
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if level == GGML_LOG_LEVEL_ERROR and text:
            log.error("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())

    _log_callback = callback  # kept referenced: llama.cpp calls it for the life of the process
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    llama_cpp.llama_backend_init()
