"""What Ollama (~v0.33) is, written once for the dashboard and the built-in server: options, roles,
capabilities, the final chunk's metrics, Go durations and keep_alive, model names, hosts.

Plain Python and cheap to import. Sources: ../shared/OLLAMA_API.md and Ollama's code (api/types.go,
types/model/name.go, envconfig/config.go), Go's time.ParseDuration (src/time/format.go).
"""
from __future__ import annotations

import contextlib
import math
import re
from dataclasses import astuple, dataclass

# --- hosts -----------------------------------------------------------------------------------------

DEFAULT_HOST = "127.0.0.1"  # Ollama's, with OLLAMA_HOST unset (envconfig.Host)
DEFAULT_PORT = 11434
DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
BUILTIN_HOST = "127.0.0.1"  # the built-in server's: next to Ollama's port, so both can run
BUILTIN_PORT = 11435
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})  # names of this machine

# A server bound to loopback answers 403 to any other Host (DNS-rebinding protection; server/routes.go
# allowedHostsMiddleware): an IP that is loopback, private or unspecified, the machine's hostname, or
# a name under one of these top-level domains is local.
LOCAL_TLDS = ("localhost", "local", "internal")
# Browser origins allowed besides OLLAMA_ORIGINS (envconfig.AllowedOrigins): these hosts with http or
# https on any port, and these app schemes; anything else gets 403. "*" in OLLAMA_ORIGINS allows all.
ORIGIN_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0")
ORIGIN_SCHEMES = ("app", "file", "tauri", "vscode-webview", "vscode-file")
# CORS preflights (OPTIONS) are answered 204 with these (gin-contrib/cors DefaultConfig, routes.go).
CORS_ALLOW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
CORS_ALLOW_HEADERS = (
    "Authorization", "Content-Type", "User-Agent", "Accept", "X-Requested-With", "x-stainless-lang",
    "x-stainless-package-version", "x-stainless-os", "x-stainless-arch", "x-stainless-retry-count",
    "x-stainless-runtime", "x-stainless-runtime-version", "x-stainless-async", "x-stainless-helper-method",
    "x-stainless-poll-helper", "x-stainless-custom-poll-interval", "x-stainless-timeout")
CORS_MAX_AGE = 12 * 3600  # seconds


def allowed_origins(env_value: str | None) -> tuple[str, ...]:
    """OLLAMA_ORIGINS (comma-separated, surrounding quotes and spaces dropped) plus Ollama's defaults."""
    extra = (env_value or "").strip().strip("\"'")
    origins = [o.strip() for o in extra.split(",") if o.strip()] if extra else []
    for host in ORIGIN_HOSTS:
        origins += [f"http://{host}", f"https://{host}", f"http://{host}:*", f"https://{host}:*"]
    return tuple(origins + [f"{scheme}://*" for scheme in ORIGIN_SCHEMES])


def origin_allowed(origin: str, patterns: tuple[str, ...]) -> bool:
    """gin-contrib/cors: an exact match, or a pattern with one `*` (prefix and suffix must match)."""
    for pattern in patterns:
        if pattern == "*" or pattern == origin:
            return True
        if "*" in pattern:
            prefix, _, suffix = pattern.partition("*")
            if len(origin) >= len(prefix) + len(suffix) and origin.startswith(prefix) and origin.endswith(suffix):
                return True
    return False


def host_is_local(host: str) -> bool:
    """Ollama's allowedHostsMiddleware for a Host header without its port (`[::1]` brackets dropped)."""
    import ipaddress
    import socket

    host = host.strip("[]").lower()
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        ip = getattr(ip, "ipv4_mapped", None) or ip
        return ip.is_loopback or ip.is_private or ip.is_unspecified
    if host in ("", "localhost") or host == socket.gethostname().lower():
        return True
    return any(host.endswith("." + tld) for tld in LOCAL_TLDS)


# --- the server's queue ----------------------------------------------------------------------------

DEFAULT_MAX_QUEUE = 512  # OLLAMA_MAX_QUEUE: requests that may wait; past it, 503 with BUSY_MESSAGE
DEFAULT_NUM_PARALLEL = 1  # OLLAMA_NUM_PARALLEL: requests each loaded model runs at once
# The built-in server's default --parallel, the best aggregate measured on a shared 2-core machine
# (tests/benchmarks/bench_builtin_parallel.py, Gemma 3 270M, streamed over HTTP): 4 concurrent
# requests 1.3-1.6x the tokens/s of 1 (median 1.5; llama.cpp alone 1.5-1.7), 2 requests 0.9-1.2x;
# nobody waits for a whole answer to start
BUILTIN_NUM_PARALLEL = 4
BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"

# --- server environment variables (the Server page explains them) ---------------------------------
# envconfig/config.go at v0.33 (fb30760): OLLAMA_MAX_LOADED_MODELS unset = 3 per GPU, 3 on a CPU
# (server/sched.go defaultModelsPerGPU); OLLAMA_CONTEXT_LENGTH unset = chosen from the total VRAM at
# start-up (server/routes.go Serve, logged as "vram-based default context"), with thresholds of
# 23 and 47 GiB standing for the documented 24 and 48. There is no OLLAMA_GPU: the GPU is used by
# itself; OLLAMA_GPU_OVERHEAD only reserves VRAM.
MODELS_PER_GPU = 3
CONTEXT_BY_VRAM_GIB = ((47, 262144), (23, 32768), (0, 4096))  # (at least this many GiB, num_ctx)


def default_context_length(vram_gib: float) -> int:
    """The num_ctx Ollama picks when neither OLLAMA_CONTEXT_LENGTH nor the request sets one."""
    return next(num_ctx for floor, num_ctx in CONTEXT_BY_VRAM_GIB if vram_gib >= floor)


# --- model memory (the Model library's estimate) ---------------------------------------------------
# fs/ggml/ggml.go GraphSize: the KV cache is num_ctx × OLLAMA_NUM_PARALLEL × (key + value length) ×
# KV heads, per attention layer, in OLLAMA_KV_CACHE_TYPE: unset, f16 (kvCacheBytesPerElement: 2 bytes).
KV_CACHE_BYTES_PER_VALUE = 2

# --- chat, capabilities, metrics -------------------------------------------------------------------

ROLES = ("system", "user", "assistant", "tool")
# /api/show `capabilities` (types/model/capability.go). "image" is image generation: the error
# for a model without it says `does not support image generation`.
CAPABILITIES = ("completion", "vision", "tools", "insert", "embedding", "thinking", "audio", "image")
# What a model may do beyond completing text, as students look for it in the catalog.
SKILLS = ("thinking", "tools", "vision", "embedding")
# How errors name a missing capability (`... does not support tools`, `"m" does not support chat`)
# -> its /api/show name.
CAPABILITY_IN_ERRORS = {"completion": "completion", "generate": "completion", "chat": "completion",
                        "tools": "tools", "insert": "insert", "vision": "vision", "audio": "audio",
                        "embedding": "embedding", "embeddings": "embedding", "thinking": "thinking",
                        "image generation": "image"}
# Small models of today's Ollama library with each capability (their library pages' tags): what
# to pull to try it. Vision has its own list, with what each model is good at (lib/images.py).
SMALL_MODELS_WITH = {"tools": ("qwen3:0.6b", "qwen3:1.7b"), "thinking": ("qwen3:0.6b", "deepseek-r1:1.5b"),
                     "embedding": ("embeddinggemma", "all-minilm"), "completion": ("gemma3:270m", "qwen3:0.6b")}
# The final chunk's metrics (api.Metrics), in the order Ollama writes them; durations in integer ns.
METRICS = ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count",
           "eval_duration")
DURATION_FIELDS = tuple(name for name in METRICS if name.endswith("_duration"))
COUNT_FIELDS = tuple(name for name in METRICS if name.endswith("_count"))

# --- options ---------------------------------------------------------------------------------------

INT, FLOAT, BOOL, STRINGS = "int", "float", "bool", "list[str]"
# api.Options.FromMap's messages for a value of the wrong type
_TYPE_ERRORS = {INT: "must be of type integer", FLOAT: "must be of type float32", BOOL: "must be of type boolean",
                STRINGS: "must be of type array"}


@dataclass(frozen=True)
class Option:
    name: str
    type: str  # INT, FLOAT, BOOL or STRINGS
    default: object = None  # None: decided by the server or the model

    @property
    def meaning_key(self) -> str:
        """The translated explanation of the option (assets/i18n/*/options.json)."""
        return f"option.{self.name}"

    def convert(self, value):
        """The value Ollama keeps (api.Options.FromMap), or TypeError with Ollama's message.

        JSON has one number type, so an int option takes a float and truncates it (2048.0 -> 2048,
        1.9 -> 1) and a float option takes an int; a string, bool or object where a number is
        expected is an error. null leaves the default (None here).
        """
        if value is None:
            return None
        if self.type == STRINGS and isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise TypeError(f'option "{self.name}" must be of an array of strings')
            return list(value)
        if self.type == BOOL and isinstance(value, bool):
            return value
        if self.type in (INT, FLOAT) and isinstance(value, (int, float)) and not isinstance(value, bool):
            # inf and nan (not JSON), or an int beyond float64 (10**400): Go's decoder refuses them
            with contextlib.suppress(OverflowError, ValueError):
                converted = int(value) if self.type == INT else float(value)
                if self.type == INT or math.isfinite(converted):
                    return converted
        raise TypeError(f'option "{self.name}" {_TYPE_ERRORS[self.type]}')


# api/types.go DefaultOptions and Runner (v0.33.0-rc2, fb30760). min_p is not in DefaultOptions: Go's
# zero value 0.0 (off) is what runs (llm/llama_server.go sends `min_p` without omitempty). num_ctx:
# OLLAMA_CONTEXT_LENGTH, else chosen from the VRAM (<24 GiB 4k, 24-48 32k, >=48 256k;
# docs/context-length.mdx) and lowered if the load runs out of memory (sched.go
# reduceAutoNumCtxForLoadOOM); num_batch: 512 in DefaultOptions, but when unset the server picks
# 256-2048 (sched.go automaticGenerationBatch); main_gpu, use_mmap: *int/*bool, nil, the server
# decides; draft_num_predict: 4 with a draft model, else 0 (routes.go modelOptionsWithEmbeddingBatchDefault).
# repeat_penalty: 1.0 since 0.32.10 (commit 6a261db7d), 1.1 before (REPEAT_PENALTY_BEFORE).
OPTIONS = (
    Option("num_keep", INT, 4), Option("seed", INT, -1), Option("num_predict", INT, -1),
    Option("top_k", INT, 40), Option("top_p", FLOAT, 0.9), Option("min_p", FLOAT, 0.0),
    Option("typical_p", FLOAT, 1.0), Option("repeat_last_n", INT, 64), Option("temperature", FLOAT, 0.8),
    Option("repeat_penalty", FLOAT, 1.0), Option("presence_penalty", FLOAT, 0.0),
    Option("frequency_penalty", FLOAT, 0.0), Option("stop", STRINGS), Option("num_ctx", INT),
    Option("num_batch", INT), Option("num_gpu", INT, -1), Option("main_gpu", INT), Option("use_mmap", BOOL),
    Option("num_thread", INT, 0), Option("draft_num_predict", INT),
)
OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}
REPEAT_PENALTY_BEFORE = ("0.32.10", 1.1)  # the default before that version


@dataclass(frozen=True)
class RemovedOption:
    """An option Ollama no longer has: sent anyway, it is ignored with a log line."""

    name: str
    removed_in: str  # the Ollama version that removed it
    ignored_since: str | None = None  # an earlier version from which it already had no effect


REMOVED_OPTIONS = (
    RemovedOption("num_gqa", "0.1.35"), RemovedOption("rope_frequency_base", "0.1.35"),
    RemovedOption("rope_frequency_scale", "0.1.35"), RemovedOption("numa", "0.3.4"),
    RemovedOption("tfs_z", "0.5.2"), RemovedOption("penalize_newline", "0.5.5"),
    # 0.7.0, not 0.6.9: there is no 0.6.9 release
    RemovedOption("low_vram", "0.7.0"), RemovedOption("f16_kv", "0.7.0", ignored_since="0.4.1"),
    RemovedOption("logits_all", "0.7.0"), RemovedOption("vocab_only", "0.7.0"),
    RemovedOption("use_mlock", "0.7.0"), RemovedOption("mirostat", "0.7.0"),
    RemovedOption("mirostat_tau", "0.7.0"), RemovedOption("mirostat_eta", "0.7.0"),
)
REMOVED_BY_NAME = {option.name: option for option in REMOVED_OPTIONS}

# --- reproducibility (the options and seed lab) ----------------------------------------------------

# api/types.go FromMap: an option not in Options/Runner is skipped with this warning in the server log.
INVALID_OPTION_LOG = "invalid option provided"
# What the lab sends on purpose to show it: a removed option, ignored (the text does not change).
REMOVED_OPTION_EXAMPLE = {"mirostat": 2}
# `temperature <= 0` is greedy decoding (llama.cpp src/llama-sampler.cpp llama_sampler_temp_impl;
# ollama #4660, PR #5045): the most probable token every time, so the seed changes nothing.
GREEDY_TEMPERATURE = 0

# --- Go durations and keep_alive -------------------------------------------------------------------

_NS_PER_UNIT = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
                "h": 3600 * 10**9}  # µ is U+00B5 (micro sign), μ U+03BC (Greek mu): Go takes both
_DIGITS = "0123456789"  # ASCII only: str.isdigit would take "²" or "٣"
_LIMIT = 1 << 63  # Go's arithmetic is on uint64 with this bound


def _go_quote(text: str) -> str:
    """Go's time.quote: double quotes, and \\x escapes for the bytes of non-ASCII or control characters."""
    out = []
    for char in text:
        if char < " " or ord(char) >= 0x80:
            out += [f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass")]
        else:
            out.append("\\" + char if char in '"\\' else char)
    return '"' + "".join(out) + '"'


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds: "5m", "1h30m", "-1m", ".5s", "+5m", "5.s", "1µs", "0".

    Raises ValueError with Go's message: `time: invalid duration "x"`, `time: missing unit in
    duration "5"`, `time: unknown unit "x" in duration "5x"`. Step for step as Go, overflow included.
    """
    def invalid() -> ValueError:
        return ValueError(f"time: invalid duration {_go_quote(text)}")

    s, negative = text, False
    if s[:1] in ("-", "+"):
        negative, s = s[0] == "-", s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise invalid()
    total = 0
    while s:
        if s[0] != "." and s[0] not in _DIGITS:
            raise invalid()
        whole, i = 0, 0
        while i < len(s) and s[i] in _DIGITS:
            if whole > _LIMIT // 10:
                raise invalid()
            whole = whole * 10 + int(s[i])
            if whole > _LIMIT:
                raise invalid()
            i += 1
        has_whole, s = i > 0, s[i:]
        fraction, scale, has_fraction = 0, 1.0, False
        if s[:1] == ".":
            s, i, overflow = s[1:], 0, False
            while i < len(s) and s[i] in _DIGITS:
                if not overflow:  # past uint64, Go stops adding precision instead of failing
                    longer = fraction * 10 + int(s[i])
                    overflow = fraction > (_LIMIT - 1) // 10 or longer > _LIMIT
                    if not overflow:
                        fraction, scale = longer, scale * 10
                i += 1
            has_fraction, s = i > 0, s[i:]
        if not has_whole and not has_fraction:  # ".s", "-.s"
            raise invalid()
        i = 0
        while i < len(s) and s[i] != "." and s[i] not in _DIGITS:
            i += 1
        if i == 0:
            raise ValueError(f"time: missing unit in duration {_go_quote(text)}")
        unit_name, s = s[:i], s[i:]
        if unit_name not in _NS_PER_UNIT:
            raise ValueError(f"time: unknown unit {_go_quote(unit_name)} in duration {_go_quote(text)}")
        unit = _NS_PER_UNIT[unit_name]
        if whole > _LIMIT // unit:
            raise invalid()
        value = whole * unit
        if fraction:
            value += int(float(fraction) * (float(unit) / scale))  # float64, as Go, then truncated
            if value > _LIMIT:
                raise invalid()
        total += value
        if total > _LIMIT:
            raise invalid()
    if not negative and total > _LIMIT - 1:
        raise invalid()
    return (-total if negative else total) / 1e9


DEFAULT_KEEP_ALIVE = 300.0  # seconds: Ollama's 5m
MAX_DURATION = (_LIMIT - 1) / 1e9  # Go's largest time.Duration, in seconds (about 292 years)


def keep_alive_seconds(value: int | float | str | None) -> float:
    """How long a model stays loaded after a request (api.Duration): 0 unloads at once, math.inf is
    forever. None: 5m. A number is seconds, a string a Go duration (ValueError if it is not one);
    negative, or a number beyond Go's largest duration, keeps the model loaded forever."""
    if value is None:
        return DEFAULT_KEEP_ALIVE
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"keep_alive must be a number or a string, not {type(value).__name__}")
    if isinstance(value, str):
        seconds = parse_go_duration(value)
    else:
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond float64 (10**400)
            seconds = math.inf if value > 0 else -math.inf
    return math.inf if seconds < 0 or seconds > MAX_DURATION else seconds


# --- model names -----------------------------------------------------------------------------------

DEFAULT_REGISTRY, DEFAULT_NAMESPACE, DEFAULT_TAG = "registry.ollama.ai", "library", "latest"
# types/model/name.go isValidPart: a letter, digit or _ first; "." nowhere in a namespace, ":" only
# in the host (its port); at most 350 characters for a host, 80 for the other parts.
_NAME_PARTS = {
    "host": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}"),
    "namespace": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}"),
    "model": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"),
    "tag": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"),
}


@dataclass(frozen=True)
class ModelName:
    """`[host/][namespace/]model[:tag]` with Ollama's defaults filled in."""

    host: str
    namespace: str
    model: str
    tag: str

    def display(self) -> str:
        """Ollama's DisplayShortest, as /api/tags lists names: `llava:latest`, `user/m:v1`, `h:5000/ns/m:v1`."""
        if self.host.lower() != DEFAULT_REGISTRY:
            return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"
        if self.namespace.lower() != DEFAULT_NAMESPACE:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.model}:{self.tag}"

    def same_as(self, other: ModelName) -> bool:
        """Ollama compares names without case (Name.EqualFold)."""
        return all(mine.lower() == theirs.lower() for mine, theirs in zip(astuple(self), astuple(other)))


def parse_model_name(text: str) -> ModelName | None:
    """The name as Ollama reads it (model.ParseName), or None where Ollama answers "invalid model name".

    Surrounding spaces are dropped (modelref.ParseRef); a scheme before the host (`https://`) too.
    A separator with nothing after it (`llama2:`, `/m`) makes the name invalid, as Ollama's MissingPart.
    """
    s, tag = text.strip(), DEFAULT_TAG
    if s.rfind(":") > s.rfind("/"):  # "/" cannot be in a tag, so a later ":" starts one
        s, _, tag = s.rpartition(":")
    host, namespace = DEFAULT_REGISTRY, DEFAULT_NAMESPACE
    rest, slash, model = s.rpartition("/")
    if slash:
        rest, slash, namespace = rest.rpartition("/")
        if slash:  # what is left is the host, perhaps after a scheme
            _, scheme_separator, after_scheme = rest.partition("://")
            host = after_scheme if scheme_separator else rest
    name = ModelName(host, namespace, model, tag)
    if all(pattern.fullmatch(getattr(name, part)) for part, pattern in _NAME_PARTS.items()):
        return name
    return None


def same_model(a: str, b: str) -> bool:
    """`llava` and `registry.ollama.ai/library/LLaVA:latest` are the same model; an invalid name is no model."""
    first, second = parse_model_name(a), parse_model_name(b)
    return first is not None and second is not None and first.same_as(second)


# --- the ollama CLI: `ollama run`'s interactive session ----------------------------------------------
# cmd/interactive.go generateInteractive (fb30760): its prompt and the one of a `"""` block
# (readline.Prompt), and what `/?`, `/? set`, `/? show` and `/? shortcuts` list (usage, usageSet,
# usageShow, usageShortcuts), as typed. Each id has its meaning in assets/i18n/*/http.json
# (`terminal.repl.<id>`). `/set parameter` takes any field of api.Options (api.FormatParams).
REPL_PROMPT, REPL_CONTINUE, REPL_QUOTES = ">>> ", "... ", '"""'
REPL_COMMANDS = (
    ("help", "/?"), ("help_set", "/? set"), ("help_show", "/? show"), ("shortcuts", "/? shortcuts"),
    ("parameter", "/set parameter seed 123"), ("system", "/set system <text>"),
    ("think", "/set think"), ("nothink", "/set nothink"), ("format", "/set format json"),
    ("noformat", "/set noformat"), ("verbose", "/set verbose"), ("quiet", "/set quiet"),
    ("show_parameters", "/show parameters"), ("show_modelfile", "/show modelfile"),
    ("show_info", "/show info"), ("show_system", "/show system"), ("show_template", "/show template"),
    ("load", "/load <model>"), ("save", "/save <model>"), ("clear", "/clear"),
    ("multiline", '"""'), ("image", "./image.png"), ("bye", "/bye"), ("ctrl_c", "Ctrl + c"),
    ("ctrl_d", "Ctrl + d"),
)
