"""Describing an image with a multimodal model: one streamed /api/generate, and what is kept of it.

Pure logic (no Streamlit): the page draws `Describing.texts()` as they arrive. Whatever
happens, the description keeps the text that had arrived: an error half-way is kept with it, and
a run that is interrupted (a click, a page change) is settled by `settle()`, which a newer run
may also call.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lib.client import Exchange, OllamaClient, OllamaError, Stream
from lib.generation import Generation


@dataclass
class Description:
    model: str
    prompt: str
    text: str = ""  # what arrived, complete or not
    final: dict | None = None  # the `done` chunk: None until it arrives, and if it never does
    exchange: Exchange | None = field(default=None, repr=False)  # for "Show the HTTP"
    error: OllamaError | None = None

    @property
    def cut_short(self) -> bool:
        """Some text but no final chunk: an error or an interruption stopped it half-way."""
        return bool(self.text) and self.final is None

    @property
    def generation(self) -> Generation | None:
        """The final chunk's counts and durations, with the times the client measured."""
        if self.final is None:
            return None
        exchange = self.exchange
        return Generation.from_final(self.final,
                                     first_token_s=exchange.first_byte_s if exchange else None,
                                     wall_s=exchange.elapsed_s if exchange else None)


class Describing:
    """One description under way. Creating it sends the request; a failure to start (model not
    found, server down) is kept in `result.error` and there is nothing to stream."""

    def __init__(self, client: OllamaClient, model: str, prompt: str, image_base64: str, stream: bool = True):
        self.result = Description(model, prompt)
        self._stream: Stream | None = None
        try:
            sent = client.generate(model, prompt, images=[image_base64], stream=stream)
        except OllamaError as error:
            self.result.error, self.result.exchange = error, error.exchange
            return
        if stream:
            self._stream = sent
        else:  # the course's request (section 6.7): one JSON object with the whole description
            response = sent.get("response")
            self.result.text = response if isinstance(response, str) else ""
            self.result.final, self.result.exchange = sent, client.last

    def texts(self) -> Iterator[str]:
        """The text pieces as they arrive (what `ui.stream_model_text` draws); an error in the middle
        ends them and is kept in `result.error`."""
        if self._stream is None:
            return
        try:
            yield from self._stream.texts()
        except OllamaError as error:
            self.result.error = error

    def settle(self) -> None:
        """Stop reading and keep what arrived. Safe to call again, and from another thread (the
        run that interrupted this one)."""
        stream = self._stream
        if stream is None:
            return
        stream.close()
        self.result.text, self.result.final, self.result.exchange = stream.text, stream.final, stream.exchange


# ------------------------------------------------------------------------- the classic mistake
MISTAKES = ("prefix", "space")
SPACE_AT = 100  # where "space" puts one: Ollama's error names this byte


def mistaken(image_base64: str, mime: str, mistake: str) -> tuple[str, int]:
    """The image as a common mistake sends it, and the byte Ollama's 400 will name: with the data
    URL prefix (byte 4, the `:` after `data`), or with a space inside (Go's base64 decoder skips
    only \\r and \\n: encoding/base64 decodeQuantum). Ollama decodes `images` while reading the
    body (`c.ShouldBindJSON`, server/routes.go GenerateHandler), before it looks for the model."""
    if mistake == "prefix":
        return f"data:{mime};base64,{image_base64}", 4
    at = min(SPACE_AT, len(image_base64))
    return f"{image_base64[:at]} {image_base64[at:]}", at


def provoke(client: OllamaClient, model: str, prompt: str, image_base64: str, mime: str,
            mistake: str) -> tuple[int, OllamaError | None]:
    """Send the mistaken image on purpose: (the byte the error should name, Ollama's error, or
    None if it accepted the request)."""
    sent, byte = mistaken(image_base64, mime, mistake)
    try:
        client.generate(model, prompt, images=[sent], stream=False)
    except OllamaError as error:
        return byte, error
    return byte, None
