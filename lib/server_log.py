"""Reading `ollama serve` start-up logs: which lines matter and what they mean.

`annotate` pairs each interesting line with an i18n key explaining it; a student can paste their
own log on the Server page and get the same reading as the course's CPU-only example.
"""
from __future__ import annotations

import pathlib
import re

# The course's start-up log of `ollama serve` on a machine with no GPU (section 2.1).
EXAMPLE = (pathlib.Path(__file__).resolve().parent.parent / "assets" / "server-log-cpu.txt").read_text(
    encoding="utf-8")

# (pattern, i18n key); the first match wins, so specific patterns come first.
PATTERNS = (
    (re.compile(r"Listening on (?P<address>\S+) \(version (?P<version>[^)]+)\)"), "log.listening"),
    (re.compile(r"no (compatible )?GPUs? (was )?(detected|discovered)", re.I), "log.no_gpu"),
    (re.compile(r"driver is too old or missing|Unable to load cudart", re.I), "log.no_driver"),
    (re.compile(r"CPU has AVX2|cpu_avx2|\bAVX2\b"), "log.avx2"),
    (re.compile(r"Dynamic LLM libraries|dynamic backends|runners", re.I), "log.runners"),
    (re.compile(r"inference compute.*library=(cuda|rocm|metal)", re.I), "log.gpu"),
    (re.compile(r"total blobs|unused blobs", re.I), "log.blobs"),
    (re.compile(r"address already in use", re.I), "log.port_in_use"),
    (re.compile(r"\[GIN\].*\|\s*(?P<status>\d{3})\s*\|\s*(?P<time>\S+)\s*\|.*\"(?P<path>/\S*)\""), "log.request"),
)


def annotate(log: str) -> list[tuple[str, str, dict]]:
    """(line, i18n key, values) for every line that says something worth explaining."""
    notes = []
    for line in log.splitlines():
        for pattern, key in PATTERNS:
            if match := pattern.search(line):
                notes.append((line.strip(), key, match.groupdict()))
                break
    return notes
