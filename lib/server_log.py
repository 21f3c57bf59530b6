"""Reading `ollama serve` logs: which lines matter and what they mean.

`annotate` pairs each interesting line with an i18n key explaining it; a student can paste their
own log on the Server page and get the same reading as the examples.

Three examples: the course's log (Ollama 0.1.32 on a machine with no GPU: the start-up of section
2.1 and the timings of section 2.3), and v0.33 logs on a CPU and on an NVIDIA GPU (the course's
section 2.2 is "pendiente"): start-up, then one /api/generate. The v0.33 lines are Ollama's own log calls at
fb30760 (server/routes.go "server config", "Listening on", "vram-based default context";
server/images.go "total blobs"; discover/runner.go, discover/types.go "inference compute" with
id=cpu library=cpu when no GPU is found; server/sched.go "system memory", "gpu memory"; llm/llama_server.go
"starting llama-server", "llama-server started in") and the lines of llama.cpp's llama-server that
Ollama passes through (the ones llm/llama_server.go parses: "using device ... MiB free", "offloaded
N/M layers to GPU", buffer sizes; and tools/server's print_timings).
"""
from __future__ import annotations

import pathlib
import re

_ASSETS = pathlib.Path(__file__).resolve().parent.parent / "assets"
EXAMPLES = {name: (_ASSETS / f"server-log-{name}.txt").read_text(encoding="utf-8")
            for name in ("cpu", "cpu-v0.33", "gpu-v0.33")}
EXAMPLE = EXAMPLES["cpu"]

_TIMING = r"\s*=\s*(?P<ms>[\d.]+) ms /\s*(?P<tokens>\d+) (?:tokens|runs)\s*\(.*?(?P<rate>[\d.]+) tokens per second\)"

# (pattern, i18n key); the first match wins, so specific patterns come first.
PATTERNS = (
    (re.compile(r"Listening on (?P<address>\S+) \(version (?P<version>[^)]+)\)"), "log.listening"),
    (re.compile(r"address already in use", re.I), "log.port_in_use"),
    (re.compile(r'msg="server config"'), "log.config"),
    (re.compile(r"no (compatible )?GPUs? (was )?(detected|discovered)", re.I), "log.no_gpu"),
    (re.compile(r"driver is too old or missing|Unable to load cudart", re.I), "log.no_driver"),
    # 0.1.x: the runners it carries (cpu_avx2 is one of them, not a statement about this CPU)
    (re.compile(r"Dynamic LLM libraries|dynamic backends", re.I), "log.runners"),
    (re.compile(r"Discovered GPU libraries: \[\]"), "log.gpu_libraries_none"),
    (re.compile(r"Discovered GPU libraries: \[\S"), "log.gpu_libraries"),
    (re.compile(r"CPU has AVX2"), "log.avx2"),
    (re.compile(r"inference compute.*\blibrary=cpu\b", re.I), "log.cpu_only"),
    (re.compile(r"inference compute.*\blibrary=vulkan\b", re.I), "log.vulkan"),
    (re.compile(r"inference compute.*\blibrary=(?P<library>cuda|rocm|metal)\b", re.I), "log.gpu"),
    (re.compile(r"vram-based default context.*default_num_ctx=(?P<num_ctx>\d+)"), "log.default_ctx"),
    (re.compile(r'msg="system memory" total="(?P<total>[^"]+)" free="(?P<free>[^"]+)"'), "log.memory"),
    (re.compile(r'msg="gpu memory".*\bavailable="(?P<available>[^"]+)"'), "log.gpu_memory"),
    (re.compile(r"offloaded 0/(?P<total>\d+) layers to GPU"), "log.offload_none"),
    (re.compile(r"offloaded (?P<total>\d+)/(?P=total) layers to GPU"), "log.offload_all"),
    (re.compile(r"offloaded (?P<gpu>\d+)/(?P<total>\d+) layers to GPU"), "log.offload"),
    (re.compile(r"(?P<device>\S+) model buffer size\s*=\s*(?P<size>[\d.]+ MiB)"), "log.model_buffer"),
    (re.compile(r"\bKV buffer size\s*=\s*(?P<size>[\d.]+ MiB)"), "log.kv_buffer"),
    (re.compile(r"llama-server started in (?P<seconds>[\d.]+) seconds"), "log.loaded"),
    (re.compile(r"prompt eval time" + _TIMING), "log.timings_prompt"),
    (re.compile(r"(?<!prompt )eval time" + _TIMING), "log.timings_eval"),
    (re.compile(r"total blobs|unused blobs", re.I), "log.blobs"),
    (re.compile(r"\[GIN\].*\|\s*(?P<status>\d{3})\s*\|\s*(?P<time>\S+)\s*\|.*\"(?P<path>/\S*)\""), "log.request"),
)


_NUMBER = re.compile(r"\d+(\.\d+)?")


def _value(text: str) -> str | int | float:
    """Numbers become numbers, so the texts write them the way the page's language does."""
    if not _NUMBER.fullmatch(text):
        return text
    return float(text) if "." in text else int(text)


def annotate(log: str) -> list[tuple[str, str, dict]]:
    """(line, i18n key, values) for every line that says something worth explaining."""
    notes = []
    for line in log.splitlines():
        for pattern, key in PATTERNS:
            if match := pattern.search(line):
                notes.append((line.strip(), key, {name: _value(v) for name, v in match.groupdict().items()}))
                break
    return notes
