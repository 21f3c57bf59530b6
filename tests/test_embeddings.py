"""Embeddings: the sentences sent, the cosine, and what the page shows of an /api/embed answer
(tests/fixtures/today-embed.json: all-minilm's format, 3 vectors of 384 values)."""
import json
import math
import pathlib

import pytest

from lib import embeddings
from lib.client import InputTooLong, MalformedResponse, OllamaClient
from lib.i18n import Refusal

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "today-embed.json"
SENTENCES = "The cat sleeps on the sofa.\nA kitten is napping on the couch.\nInterest rates rose again this quarter."
SHOW = {"model_info": {"general.architecture": "bert", "bert.context_length": 256}, "capabilities": ["embedding"]}


def answer() -> dict:
    return json.loads(FIXTURE.read_text())


def test_one_sentence_per_line_and_empty_lines_ignored():
    assert embeddings.sentences("  one \n\n\t\ntwo\n   ") == (["one", "two"], 0)


@pytest.mark.parametrize("text", ["", "\n \n\t", None])
def test_no_sentence_is_refused(text):
    with pytest.raises(Refusal) as refused:
        embeddings.sentences(text)
    assert refused.value.key == "today.embed.none"


def test_too_many_sentences_are_capped():
    chosen, left_out = embeddings.sentences("\n".join(f"sentence {n}" for n in range(27)))
    assert len(chosen) == embeddings.MAX_SENTENCES == 20 and chosen[-1] == "sentence 19" and left_out == 7


@pytest.mark.parametrize("a, b, expected", [
    ([1, 0], [0, 1], 0.0), ([1, 2, 3], [1, 2, 3], 1.0), ([1, 2], [-1, -2], -1.0),
    ([3, 4], [6, 8], 1.0),  # not normalised: the cosine does not care about length
    ([1, 1], [1, 0], 1 / math.sqrt(2)),
])
def test_cosine(a, b, expected):
    assert embeddings.cosine(a, b) == pytest.approx(expected)


def test_cosine_of_a_zero_vector_is_unknown_and_lengths_must_match():
    assert embeddings.cosine([0, 0], [1, 0]) is None
    with pytest.raises(ValueError):
        embeddings.cosine([1, 0], [1, 0, 0])


def test_the_similarity_matrix_is_every_pairs_cosine():
    vectors = [[0.3, -1.2, 2.0], [0.0, 0.0, 0.0], [-0.3, 1.2, -2.0], [5.0, 0.1, 0.2]]
    matrix = embeddings.similarities(vectors)
    for i, a in enumerate(vectors):
        for j, b in enumerate(vectors):
            expected = embeddings.cosine(a, b)
            assert matrix[i][j] == (None if expected is None else pytest.approx(expected))
    assert matrix[0][2] == pytest.approx(-1.0) and embeddings.similarities([]) == []


def test_cosine_stays_within_minus_one_and_one():
    v = [0.1] * 384
    assert embeddings.cosine(v, v) <= 1.0


def test_the_fixture_answer_read(fake_ollama):
    fake_ollama.reply("POST", "/api/embed", body=answer())
    result = embeddings.embed(OllamaClient(fake_ollama.url), "all-minilm", SENTENCES + "\n\n", show=SHOW)
    assert result.error is None and result.length == 384 and len(result.vectors) == 3
    assert fake_ollama.bodies("/api/embed") == [{"model": "all-minilm", "input": SENTENCES.split("\n")}]
    matrix = result.matrix
    assert [round(matrix[i][i], 6) for i in range(3)] == [1.0, 1.0, 1.0]
    assert matrix[0][1] == pytest.approx(0.76, abs=0.01) and abs(matrix[0][2]) < 0.1
    assert matrix[0][1] == matrix[1][0]
    assert result.most_alike() == (1, 2, pytest.approx(matrix[0][1]))
    assert result.generation.prompt_tokens == 27 and result.generation.total_s == pytest.approx(0.041236781)
    assert result.context_length == 256 and result.long_sentences == []
    first = result.rows()[0]
    assert first["number"] == 1 and first["chars"] == 27 and first["norm"] == pytest.approx(1.0, abs=1e-6)
    assert first["first"] == pytest.approx(answer()["embeddings"][0][:5])
    assert result.exchange.path == "/api/embed" and result.exchange.status == 200


def test_truncate_is_sent_only_when_off_and_dimensions_when_set(fake_ollama):
    client = OllamaClient(fake_ollama.url)
    embeddings.embed(client, "embeddinggemma", "a\nb", truncate=False, dimensions=128)
    assert fake_ollama.bodies("/api/embed")[-1] == {"model": "embeddinggemma", "input": ["a", "b"],
                                                    "truncate": False, "dimensions": 128}


def test_a_text_too_long_without_truncate_is_the_servers_error(fake_ollama):
    fake_ollama.reply("POST", "/api/embed", 400, {"error": "the input length exceeds the context length"})
    result = embeddings.embed(OllamaClient(fake_ollama.url), "all-minilm", "word " * 2000, truncate=False)
    assert isinstance(result.error, InputTooLong) and result.vectors == []
    assert result.exchange.status == 400


def test_long_sentences_are_pointed_out():
    result = embeddings.Embedded("all-minilm", ["short", "x" * 300], context_length=256)
    assert result.long_sentences == [2]
    assert embeddings.Embedded("m", ["x" * 300]).long_sentences == []  # context unknown: nothing claimed
    # truncate off: a text too long is refused by the server, so one that came back was read whole
    assert embeddings.Embedded("m", ["x" * 300], truncate=False, context_length=256).long_sentences == []


@pytest.mark.parametrize("body", [
    {"model": "m", "embeddings": [[0.1, 0.2]]},  # one vector for two sentences
    {"model": "m", "embeddings": [[0.1, 0.2], [0.1]]},  # lengths differ
    {"model": "m", "embeddings": [[0.1, "x"], [0.1, 0.2]]},
    {"model": "m", "embeddings": [[], []]},
    {"model": "m"},
])
def test_an_answer_that_is_not_vectors_is_reported(fake_ollama, body):
    fake_ollama.reply("POST", "/api/embed", body=body)
    result = embeddings.embed(OllamaClient(fake_ollama.url), "m", "a\nb")
    assert isinstance(result.error, MalformedResponse) and result.vectors == []


@pytest.mark.parametrize("show, expected", [
    (SHOW, 256), ({"model_info": {"general.architecture": "gemma3", "gemma3.context_length": 2048}}, 2048),
    ({"model_info": {}}, None), ({}, None), (None, None),
    ({"model_info": {"general.architecture": "bert", "bert.context_length": "256"}}, None),
])
def test_context_length_from_show(show, expected):
    assert embeddings.context_length(show) == expected


def test_labels_are_numbered_shortened_and_cannot_carry_tags():
    assert embeddings.label(1, "The cat sleeps on the sofa.") == "1. The cat sleeps on the sofa."
    assert embeddings.label(12, "A" * 40) == "12. " + "A" * 27 + "…"
    assert embeddings.label(2, '<a href="http://x">hi</a>') == '2. &lt;a href="http://x"&gt;hi&lt;/a&gt;'


def test_the_heatmap_shows_every_pair():
    result = embeddings.Embedded("m", ["same", "same", "other"], vectors=[[1, 0], [1, 0], [0, 1]])
    figure = embeddings.heatmap(result, "Cosine similarity")
    heat = figure.data[0]
    assert list(heat.x) == list(heat.y) == ["1. same", "2. same", "3. other"]  # equal sentences stay two rows
    assert [list(row) for row in heat.z] == [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert (heat.zmin, heat.zmax) == (-1, 1) and figure.layout.title.text == "Cosine similarity"
