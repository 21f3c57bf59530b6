"""Embeddings (`/api/embed`): the sentences a student types, their vectors, and how alike they are.

Plain Python, no Streamlit. Ollama returns each vector L2-normalised, so a dot product would do;
the cosine is computed in full anyway, so a server that does not normalise (or `/api/embeddings`,
the old endpoint, which never did) gives the same numbers.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go

from lib.client import Exchange, MalformedResponse, OllamaClient, OllamaError
from lib.generation import Generation
from lib.i18n import Refusal

MAX_SENTENCES = 20  # a 20 x 20 heatmap still reads; more is a different exercise
MAX_CHARS = 20_000  # all sentences together (the text box's limit)
FIRST_VALUES = 5  # values of each vector shown
SHORT_LABEL = 28  # characters of a sentence on the heatmap's axes


def sentences(text: str) -> tuple[list[str], int]:
    """One sentence per non-empty line, at most MAX_SENTENCES; and how many lines were left out."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise Refusal("today.embed.none")
    return lines[:MAX_SENTENCES], max(0, len(lines) - MAX_SENTENCES)


def norm(vector: list[float]) -> float:
    return math.sqrt(math.fsum(x * x for x in vector))


def cosine(a: list[float], b: list[float]) -> float | None:
    """Cosine similarity, -1 to 1; None for a zero vector (no direction to compare)."""
    if len(a) != len(b):
        raise ValueError(f"vectors of different lengths: {len(a)} and {len(b)}")
    length = norm(a) * norm(b)
    if length == 0:
        return None
    return max(-1.0, min(1.0, math.fsum(x * y for x, y in zip(a, b)) / length))


def similarities(vectors: list[list[float]]) -> list[list[float | None]]:
    """Every pair's cosine, as `cosine` computes it, in one matrix product (20 vectors of 768
    values: about 1 ms instead of 150 ms pair by pair); None where a vector is zero."""
    if not vectors:
        return []
    matrix = np.asarray(vectors, dtype=float)
    norms = np.linalg.norm(matrix, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosines = np.clip(matrix @ matrix.T / np.outer(norms, norms), -1.0, 1.0)
    return [[None if norms[i] == 0 or norms[j] == 0 else float(cosines[i, j]) for j in range(len(vectors))]
            for i in range(len(vectors))]


def label(number: int, sentence: str) -> str:
    """`3. The cat sleeps on the…`: numbered (two equal sentences stay two rows on the axes), with
    `<` and `>` as entities: Plotly reads tags (`<a href>`) in axis labels."""
    short = sentence if len(sentence) <= SHORT_LABEL else sentence[:SHORT_LABEL - 1].rstrip() + "…"
    return f"{number}. {short}".replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vectors(answer: dict, count: int, exchange: Exchange | None) -> list[list[float]]:
    """`embeddings` checked: one list of numbers per sentence, all of the same length."""
    vectors = answer.get("embeddings")
    valid = (isinstance(vectors, list) and len(vectors) == count and
             all(isinstance(v, list) and v and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                   for x in v) for v in vectors))
    if not valid or len({len(v) for v in vectors}) != 1:
        raise MalformedResponse(f"/api/embed did not answer {count} vectors of numbers of one length",
                                exchange)
    return [[float(x) for x in v] for v in vectors]


@dataclass
class Embedded:
    """What /api/embed answered for the sentences, and what a student reads from it."""

    model: str
    sentences: list[str]
    left_out: int = 0  # lines past MAX_SENTENCES, not sent
    truncate: bool = True  # Ollama may have cut a long text (else it refuses one)
    context_length: int | None = None  # tokens the model reads per text, from /api/show
    vectors: list[list[float]] = field(default_factory=list)
    generation: Generation | None = None  # tokens read (all sentences together) and times; None on error
    exchange: Exchange | None = field(default=None, repr=False)
    error: OllamaError | None = None

    @property
    def length(self) -> int:
        return len(self.vectors[0]) if self.vectors else 0

    @functools.cached_property
    def matrix(self) -> list[list[float | None]]:
        """Computed once: the page draws it on every rerun."""
        return similarities(self.vectors)

    @property
    def labels(self) -> list[str]:
        return [label(n, s) for n, s in enumerate(self.sentences, start=1)]

    @property
    def long_sentences(self) -> list[int]:
        """Numbers of the sentences with more characters than the model reads tokens: with
        `truncate` on they may have been cut (a token is rarely less than a character, often more)."""
        if not self.context_length or not self.truncate:
            return []
        return [n for n, s in enumerate(self.sentences, start=1) if len(s) > self.context_length]

    def rows(self) -> list[dict]:
        """Per sentence: its number, characters, the vector's length (norm) and first values."""
        return [{"number": n, "sentence": s, "chars": len(s), "norm": norm(v), "first": v[:FIRST_VALUES]}
                for n, (s, v) in enumerate(zip(self.sentences, self.vectors), start=1)]

    def most_alike(self) -> tuple[int, int, float] | None:
        """The two different sentences most alike: (number, number, cosine)."""
        matrix, best = self.matrix, None
        for i in range(len(matrix)):
            for j in range(i + 1, len(matrix)):
                value = matrix[i][j]
                if value is not None and (best is None or value > best[2]):
                    best = (i + 1, j + 1, value)
        return best


def context_length(show: dict | None) -> int | None:
    """`<architecture>.context_length` from /api/show's model_info, if the server says it."""
    info = (show or {}).get("model_info")
    if not isinstance(info, dict):
        return None
    value = info.get(f"{info.get('general.architecture')}.context_length")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def embed(client: OllamaClient, model: str, text: str, truncate: bool = True,
          dimensions: int | None = None, show: dict | None = None) -> Embedded:
    """Embed the sentences of `text` (Refusal if there are none). `truncate` is sent only when it
    differs from Ollama's default (true), so the request shows what the student changed."""
    chosen, left_out = sentences(text)
    result = Embedded(model, chosen, left_out, truncate, context_length(show))
    try:
        answer = client.embed(model, chosen, truncate=None if truncate else False, dimensions=dimensions)
        result.exchange = client.last
        result.vectors = _vectors(answer, len(chosen), client.last)
    except OllamaError as error:
        result.error, result.exchange = error, error.exchange
        return result
    result.generation = Generation.from_final(answer, wall_s=client.last.elapsed_s)
    return result


def heatmap(result: Embedded, title: str) -> go.Figure:
    """Cosine similarity of every pair of sentences: 1 on the diagonal, -1 to 1 elsewhere."""
    labels = result.labels
    figure = go.Figure(go.Heatmap(
        z=result.matrix, x=labels, y=labels, zmin=-1, zmax=1, colorscale="RdBu",
        texttemplate="%{z:.2f}", hovertemplate="%{y}<br>%{x}<br>cos = %{z:.3f}<extra></extra>",
        colorbar={"title": {"text": "cos"}}))
    figure.update_layout(title={"text": title}, yaxis={"autorange": "reversed"}, margin={"t": 50},
                         height=max(320, 60 + 36 * len(labels)))
    return figure
