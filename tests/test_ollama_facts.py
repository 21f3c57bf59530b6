"""lib/ollama_facts.py: Go durations, keep_alive, options, model names, hosts; and that lib/ keeps
one copy of them."""
import ast
import math
import pathlib
import re

import pytest

from lib import hosts, options
from lib import ollama_facts as facts
from lib.builtin_server import validation

ROOT = pathlib.Path(__file__).resolve().parent.parent
NS = 1e-9  # seconds

# --- Go's time.ParseDuration (cases from Go's src/time/time_test.go) -------------------------------

GO_ACCEPTS = [
    ("0", 0), ("-0", 0), ("+0", 0), ("5s", 5), ("-5s", -5), ("+5s", 5), ("5.0s", 5), ("5.6s", 5.6),
    ("5.s", 5), (".5s", 0.5), ("1.004s", 1.004), ("100.00100s", 100.001),
    ("10ns", 10 * NS), ("11us", 11e-6), ("12µs", 12e-6), ("12μs", 12e-6), ("13ms", 0.013), ("15m", 900),
    ("16h", 57600), ("3h30m", 12600), ("10.5s4m", 250.5), ("-2m3.4s", -123.4), ("1h30m", 5400),
    ("1h2m3s4ms5us6ns", 3723.004005006), ("+5m", 300), ("-1m", -60),
    ("0.3333333333333333333h", 1200), ("0.100000000000000000000h", 360),
    ("0.830103483285477580700h", 2988372539827 / 1e9),  # the first overflow check of leadingFraction
    ("9223372036854775807ns", (2**63 - 1) / 1e9), ("9223372036s854ms775us807ns", (2**63 - 1) / 1e9),
    ("-9223372036854775808ns", -(2**63) / 1e9), ("-2562047h47m16.854775808s", -(2**63) / 1e9),
]
GO_REFUSES = [
    ("", 'time: invalid duration ""'), ("3", 'time: missing unit in duration "3"'),
    ("5", 'time: missing unit in duration "5"'), ("1.5", 'time: missing unit in duration "1.5"'),
    ("-", 'time: invalid duration "-"'), ("s", 'time: invalid duration "s"'), (".", 'time: invalid duration "."'),
    ("-.", 'time: invalid duration "-."'), (".s", 'time: invalid duration ".s"'),
    ("+.s", 'time: invalid duration "+.s"'),
    ("--5m", 'time: invalid duration "--5m"'), ("soon", 'time: invalid duration "soon"'),
    ("1d", 'time: unknown unit "d" in duration "1d"'), ("1e3s", 'time: unknown unit "e" in duration "1e3s"'),
    ("5 m", 'time: unknown unit " m" in duration "5 m"'), ("1h-5m", 'time: unknown unit "h-" in duration "1h-5m"'),
    ("µs", r'time: invalid duration "\xc2\xb5s"'), ("\ufffd", r'time: invalid duration "\xef\xbf\xbd"'),
    ("3000000h", 'time: invalid duration "3000000h"'),  # past Go's largest duration (about 292 years)
    ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
    ("9223372036854ms775us808ns", 'time: invalid duration "9223372036854ms775us808ns"'),
]


@pytest.mark.parametrize("text, seconds", GO_ACCEPTS)
def test_go_accepts(text, seconds):
    assert facts.parse_go_duration(text) == pytest.approx(seconds, rel=1e-15, abs=0)


@pytest.mark.parametrize("text, message", GO_REFUSES)
def test_go_refuses_with_its_message(text, message):
    with pytest.raises(ValueError) as error:
        facts.parse_go_duration(text)
    assert str(error.value) == message


# One parser for both: the old ones disagreed on .5s, +5m, 5.s, 1μs, 9999999999999h (and Go's messages).
@pytest.mark.parametrize("text", [".5s", "+5m", "5.s", "1μs", "1µs", "1us", "1h30m", "-1m", "0",
                                  "1e3s", "5", "", "5x", "9999999999999h"])
def test_the_dashboard_and_the_server_agree_on_keep_alive(text):
    try:
        sent = options.parse_keep_alive(text)
    except ValueError:
        sent = "refused"
    try:
        served = validation.keep_alive(text if sent == "refused" else sent)
    except validation.ApiError:
        served = "refused"
    assert (sent == "refused") == (served == "refused"), (sent, served)


@pytest.mark.parametrize("value, seconds", [
    (None, 300), (0, 0), ("0", 0), (30, 30), (2.5, 2.5), ("5m", 300), (-1, math.inf), ("-1m", math.inf),
    (10**400, math.inf), (1e300, math.inf), (facts.MAX_DURATION, facts.MAX_DURATION),
])
def test_keep_alive(value, seconds):
    assert facts.keep_alive_seconds(value) == seconds


def test_keep_alive_refuses_what_ollama_refuses():
    with pytest.raises(ValueError, match="time: invalid duration"):
        facts.keep_alive_seconds("3000000h")  # a string is parsed by Go: no "forever" past its maximum
    for value in (True, [], {}):
        with pytest.raises(TypeError):
            facts.keep_alive_seconds(value)


# --- options ---------------------------------------------------------------------------------------

def test_current_options_types_and_defaults():
    assert {o.name: (o.type, o.default) for o in facts.OPTIONS} == {
        "num_keep": ("int", 4), "seed": ("int", -1), "num_predict": ("int", -1), "top_k": ("int", 40),
        "top_p": ("float", 0.9), "min_p": ("float", 0.0), "typical_p": ("float", 1.0),
        "repeat_last_n": ("int", 64), "temperature": ("float", 0.8), "repeat_penalty": ("float", 1.0),
        "presence_penalty": ("float", 0.0), "frequency_penalty": ("float", 0.0), "stop": ("list[str]", None),
        "num_ctx": ("int", None), "num_batch": ("int", None), "num_gpu": ("int", -1), "main_gpu": ("int", None),
        "use_mmap": ("bool", None), "num_thread": ("int", 0), "draft_num_predict": ("int", None),
    }
    assert options.CURRENT is facts.OPTIONS
    assert options.BY_NAME["draft_num_predict"].meaning_key == "option.draft_num_predict"


def test_removed_options_and_versions():
    assert {o.name: o.removed_in for o in facts.REMOVED_OPTIONS} == options.REMOVED == {
        "num_gqa": "0.1.35", "rope_frequency_base": "0.1.35", "rope_frequency_scale": "0.1.35", "numa": "0.3.4",
        "tfs_z": "0.5.2", "penalize_newline": "0.5.5", "low_vram": "0.7.0", "f16_kv": "0.7.0",
        "logits_all": "0.7.0", "vocab_only": "0.7.0", "use_mlock": "0.7.0", "mirostat": "0.7.0",
        "mirostat_tau": "0.7.0", "mirostat_eta": "0.7.0",
    }
    assert facts.REMOVED_BY_NAME["f16_kv"].ignored_since == "0.4.1"
    assert not set(facts.REMOVED_BY_NAME) & set(facts.OPTIONS_BY_NAME)


@pytest.mark.parametrize("name, value, kept", [
    ("num_ctx", 2048.0, 2048), ("num_predict", 1.9, 1), ("seed", -1.9, -1), ("seed", 2**70, 2**70),
    ("temperature", 1, 1.0), ("top_p", 0.5, 0.5), ("use_mmap", False, False),
    ("stop", ["\n", "User:"], ["\n", "User:"]),
    ("stop", [], []), ("temperature", None, None), ("draft_num_predict", 4, 4),
])
def test_the_value_ollama_keeps(name, value, kept):
    converted = facts.OPTIONS_BY_NAME[name].convert(value)
    assert converted == kept and type(converted) is type(kept)


@pytest.mark.parametrize("name, value, message", [
    ("num_ctx", "2048", 'option "num_ctx" must be of type integer'),
    ("seed", True, 'option "seed" must be of type integer'),
    ("top_k", {"k": 1}, 'option "top_k" must be of type integer'),
    ("top_k", math.inf, 'option "top_k" must be of type integer'),
    ("temperature", "hot", 'option "temperature" must be of type float32'),
    ("temperature", False, 'option "temperature" must be of type float32'),
    ("temperature", 10**400, 'option "temperature" must be of type float32'),
    ("use_mmap", 1, 'option "use_mmap" must be of type boolean'),
    ("stop", "User:", 'option "stop" must be of type array'),
    ("stop", ["a", 1], 'option "stop" must be of an array of strings'),
])
def test_a_string_bool_or_object_where_a_number_is_expected_is_an_error(name, value, message):
    with pytest.raises(TypeError) as error:
        facts.OPTIONS_BY_NAME[name].convert(value)
    assert str(error.value) == message


# --- model names -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, parts, shown", [
    ("llava", ("registry.ollama.ai", "library", "llava", "latest"), "llava:latest"),
    ("  gemma3:270m-base ", ("registry.ollama.ai", "library", "gemma3", "270m-base"), "gemma3:270m-base"),
    ("library/llava:7b", ("registry.ollama.ai", "library", "llava", "7b"), "llava:7b"),
    ("registry.ollama.ai/library/llava:latest", ("registry.ollama.ai", "library", "llava", "latest"), "llava:latest"),
    ("user/my_model", ("registry.ollama.ai", "user", "my_model", "latest"), "user/my_model:latest"),
    ("hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M", ("hf.co", "bartowski", "Llama-3.2-1B-GGUF", "Q4_K_M"),
     "hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M"),
    ("https://localhost:5000/ns/m:v1", ("localhost:5000", "ns", "m", "v1"), "localhost:5000/ns/m:v1"),
    ("qwen2.5-coder:1.5b", ("registry.ollama.ai", "library", "qwen2.5-coder", "1.5b"), "qwen2.5-coder:1.5b"),
    ("m" * 80 + ":" + "t" * 80, ("registry.ollama.ai", "library", "m" * 80, "t" * 80), "m" * 80 + ":" + "t" * 80),
])
def test_valid_names_and_how_ollama_shows_them(text, parts, shown):
    name = facts.parse_model_name(text)
    assert (name.host, name.namespace, name.model, name.tag) == parts and name.display() == shown


@pytest.mark.parametrize("text", ["", "   ", "llama 2", "llama2::7b", "llama2:", ":7b", "llama2;ls", "../etc/passwd",
                                  "a/b/c/d", "/m", "ns/", "hf.co/m", "localhost:5000/m", "-m", ".m", "m@sha256",
                                  "llava:7b/x", "m" * 81, "m:" + "t" * 81, "é"])
def test_invalid_names(text):
    assert facts.parse_model_name(text) is None


def test_names_compare_as_ollama_compares_them():
    assert facts.same_model("llava", "registry.ollama.ai/library/LLaVA:latest")
    assert facts.same_model("Gemma:2B", "gemma:2b") and not facts.same_model("llama3", "llama3:8b")
    assert not facts.same_model("user/llava", "llava") and not facts.same_model("llava:", "llava:")


# --- hosts, roles, capabilities, metrics ------------------------------------------------------------

def test_hosts_roles_capabilities_and_metrics():
    assert (facts.DEFAULT_URL, facts.BUILTIN_HOST, facts.BUILTIN_PORT) == ("http://127.0.0.1:11434", "127.0.0.1", 11435)
    assert hosts.default_url({}) == facts.DEFAULT_URL and "localhost" in facts.LOCAL_HOSTS
    assert facts.ROLES == ("system", "user", "assistant", "tool")
    assert set(facts.CAPABILITIES) == {
        "completion", "vision", "tools", "insert", "embedding", "thinking", "audio", "image"}
    assert facts.DURATION_FIELDS == ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")
    assert facts.COUNT_FIELDS == ("prompt_eval_count", "eval_count")


# --- one copy: lib/ must not write these facts again -----------------------------------------------

OPTION_NAMES = set(facts.OPTIONS_BY_NAME) | set(facts.REMOVED_BY_NAME)
GO_UNITS = {"ns", "us", "µs", "μs", "ms"}
PORTS = {facts.DEFAULT_PORT, facts.BUILTIN_PORT}
HOST_AND_PORT = re.compile(rf"(https?://)?[\w.\[\]:-]*:({'|'.join(map(str, PORTS))})/?")


def copies(source: str) -> list[tuple[str, int]]:
    """(what, line) for every fact the source writes itself instead of taking it from lib.ollama_facts:
    a literal collection of several option names, Go duration units, capabilities, local host names
    or the four roles; a removed option's name; Ollama's or the built-in server's port, or a URL with it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Set, ast.List, ast.Tuple, ast.Dict)):
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            # Option("num_ctx", ...) counts as its name: the old table was a tuple of such calls
            items = [i.args[0] if isinstance(i, ast.Call) and i.args else i for i in items]
            strings = {i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)}
            for what, names, at_least in (("options", OPTION_NAMES, 3), ("go units", GO_UNITS, 3),
                                          ("capabilities", set(facts.CAPABILITIES), 3),
                                          ("local hosts", facts.LOCAL_HOSTS, 3), ("roles", set(facts.ROLES), 4)):
                if len(strings & names) >= at_least:
                    found.append((what, node.lineno))
        elif isinstance(node, ast.Constant) and type(node.value) is int and node.value in PORTS:
            found.append(("port", node.lineno))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in facts.REMOVED_BY_NAME:
                found.append(("removed option", node.lineno))
            elif HOST_AND_PORT.fullmatch(node.value):
                found.append(("port", node.lineno))
            elif re.search(r"(?<![A-Za-z])(ns|us|µs|μs|ms)\|", node.value):  # a regular expression of Go units
                found.append(("go units", node.lineno))
    return found


def lib_copies() -> dict[str, list]:
    everything = {}
    for path in sorted((ROOT / "lib").rglob("*.py")):
        if path != ROOT / "lib" / "ollama_facts.py" and (found := copies(path.read_text(encoding="utf-8"))):
            everything[str(path.relative_to(ROOT))] = found
    return everything


def test_the_detector_finds_the_old_copies_and_nothing_legitimate():
    old = '''
CURRENT = (Option("num_keep", INT, 4), Option("seed", INT, -1), Option("top_k", INT, 40))
REMOVED = {"num_gqa": "0.1.35"}
_GO_PART = re.compile(r"(\\d+\\.?\\d*|\\.\\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_DURATION = re.compile(r"^-?(\\d+(\\.\\d+)?(ns|us|ms|s|m|h))+$")
DEFAULT_PORT = 11434
URL = "http://127.0.0.1:11435"
CAPABILITIES = ("completion", "vision", "tools", "insert", "embedding", "thinking")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
ROLES = ("system", "user", "assistant", "tool")
'''
    assert sorted((line, what) for what, line in copies(old)) == [
        (2, "options"), (3, "removed option"), (4, "go units"), (5, "go units"), (6, "port"), (7, "port"),
        (8, "capabilities"), (9, "local hosts"), (10, "roles")]
    legitimate = '''
COMMON_OPTIONS = (("temperature", 0.0, 2.0), ("seed", -1, 9), ("top_k", 1, 1000))
ADVICE = ("ollama serve", "ss -ltnp | grep 11434", "curl http://localhost:11434")
chosen = {"temperature": 0.2, "seed": 1}
ok = "vision" in caps and role in ("user", "assistant")
PATTERN = re.compile(r"[^A-Za-z0-9+/=\\r\\n]")
'''
    assert copies(legitimate) == []


def test_lib_keeps_one_copy_of_the_ollama_facts():
    assert lib_copies() == {}
