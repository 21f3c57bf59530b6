"""The "Terminal" tab: each recorded call as the `ollama` command line makes it (lib/terminal.py)."""
import subprocess

import pytest

from lib import i18n, terminal
from lib.client import Exchange
from lib.ollama_facts import REPL_COMMANDS

LOCAL = "http://127.0.0.1:11434"
HOSTILE = "it's \"blue\" $(touch /tmp/pwned) `id` $HOME\nline two ; rm -rf ~"


def twin(path, body=None, method="POST", url=LOCAL):
    return terminal.twin(Exchange(method, url, path, body))


def shell_words(command: str) -> list[str]:
    """The words a POSIX shell passes to `ollama` for this command line, with nothing run: `ollama`
    is a shell function that prints its arguments."""
    script = "ollama() { printf '%s\\0' \"$@\"; }\n" + command
    printed = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True, timeout=10).stdout
    return printed.split("\0")[:-1]


def test_one_shot_run_as_the_course_writes_it():
    made = twin("/api/generate", {"model": "gemma:2b", "prompt": "¿Por qué el cielo es azul?", "stream": True})
    assert made.text == "ollama run gemma:2b '¿Por qué el cielo es azul?'"
    assert made.note_key == "http.terminal.one_shot" and made.left_out == ()


def test_a_hostile_prompt_reaches_ollama_as_one_word_and_nothing_runs():
    made = twin("/api/generate", {"model": "gemma:2b", "prompt": HOSTILE})
    assert shell_words(made.text) == ["run", "gemma:2b", HOSTILE]


def test_one_shot_flags_for_format_think_and_keep_alive():
    made = twin("/api/generate", {"model": "qwen3:0.6b", "prompt": "hola", "format": "json", "think": False,
                                  "keep_alive": 600})
    assert made.text == "ollama run qwen3:0.6b --format json --think=false --keepalive 600s 'hola'"
    assert twin("/api/generate", {"model": "m", "prompt": "x", "think": True}).text == "ollama run m --think 'x'"
    assert twin("/api/generate", {"model": "m", "prompt": "x", "think": "high"}).text == "ollama run m --think=high 'x'"
    assert twin("/api/generate", {"model": "m", "prompt": "x", "keep_alive": "10m"}).text == "ollama run m --keepalive 10m 'x'"


def test_a_json_schema_goes_in_the_format_flag():
    """generate()/chat() send the flag's text as raw JSON (only "json" is quoted): a schema works."""
    schema = {"type": "object", "properties": {"color": {"type": "string"}}}
    words = shell_words(twin("/api/generate", {"model": "m", "prompt": "x", "format": schema}).text)
    assert words == ["run", "m", "--format", '{"type":"object","properties":{"color":{"type":"string"}}}', "x"]


def test_options_open_the_session_with_set_parameter_lines():
    made = twin("/api/generate", {"model": "gemma:2b", "prompt": "¿Por qué el cielo es azul?",
                                  "options": {"seed": 123, "temperature": 0, "num_ctx": 2048.0, "stop": ["a", "b"],
                                              "use_mmap": False},
                                  "system": "Responde en una frase.", "think": False, "format": "json"})
    assert made.lines == (
        "ollama run gemma:2b",
        ">>> /set parameter seed 123",
        ">>> /set parameter temperature 0",
        ">>> /set parameter num_ctx 2048",  # strconv.ParseInt refuses "2048.0"
        ">>> /set parameter stop a b",
        ">>> /set parameter use_mmap false",
        ">>> /set nothink",
        ">>> /set format json",
        ">>> /set system Responde en una frase.",
        ">>> ¿Por qué el cielo es azul?",
        ">>> /bye")
    assert made.note_key == "http.terminal.session_generate" and made.left_out == ()


def test_what_the_session_cannot_set_is_named():
    """/set parameter only takes api.Options fields, split on spaces; raw/suffix/template have no form."""
    made = twin("/api/generate", {"model": "m", "prompt": "x", "raw": True,
                                  "options": {"mirostat": 1, "stop": ["two words"], "seed": 1}})
    assert made.left_out == ("raw", "options.mirostat", "options.stop")
    assert ">>> /set parameter seed 1" in made.lines and not any("mirostat" in line for line in made.lines)


def test_multi_line_texts_use_triple_quotes_exactly_as_the_session_reads_them():
    made = twin("/api/generate", {"model": "m", "prompt": HOSTILE, "system": "Uno.\nDos  espacios.",
                                  "options": {"seed": 1}})
    assert made.lines[2:] == (
        '>>> /set system """',  # alone on its line: text after it would be glued to the next line
        "... Uno.",
        '... Dos  espacios."""',
        '>>> """it\'s "blue" $(touch /tmp/pwned) `id` $HOME',
        '... line two ; rm -rf ~"""',
        ">>> /bye")
    slash = twin("/api/chat", {"model": "m", "messages": [{"role": "user", "content": "/bye is a command"}]})
    assert '>>> """/bye is a command"""' in slash.lines  # typed bare, the session would exit


def test_images_are_paths_in_the_prompt():
    made = twin("/api/generate", {"model": "llava", "prompt": "Describe la imagen.", "images": ["iVBOR", "iVBOR"]})
    assert made.text == "ollama run llava 'Describe la imagen. ./image1.png ./image2.png'"
    assert made.note_key == "http.terminal.images"
    chat = twin("/api/chat", {"model": "llava", "messages": [
        {"role": "user", "content": "¿Qué ves?", "images": ["iVBOR"]},
        {"role": "assistant", "content": "Un gato."},
        {"role": "user", "content": "¿Y aquí?", "images": ["iVBOR"]}]})
    assert chat.lines == ("ollama run llava", ">>> ¿Qué ves? ./image1.png", ">>> ¿Y aquí? ./image2.png", ">>> /bye")


def test_chat_is_the_session_with_the_history():
    made = twin("/api/chat", {"model": "gemma:2b", "stream": True, "keep_alive": "1h", "think": True,
                              "options": {"temperature": 0.7},
                              "messages": [{"role": "system", "content": "Sé breve."},
                                           {"role": "user", "content": "2 + 2"},
                                           {"role": "assistant", "content": "the answer is 4"},
                                           {"role": "user", "content": "3 * 3"}]})
    assert made.lines == ("ollama run gemma:2b --keepalive 1h", ">>> /set parameter temperature 0.7",
                          ">>> /set think", ">>> /set system Sé breve.", ">>> 2 + 2", ">>> 3 * 3", ">>> /bye")
    assert made.note_key == "http.terminal.history"
    first = twin("/api/chat", {"model": "m", "messages": [{"role": "user", "content": "hola"}]})
    assert first.note_key == "http.terminal.session_chat"
    tools = twin("/api/chat", {"model": "m", "tools": [{"type": "function"}], "messages": [
        {"role": "user", "content": "x"}, {"role": "tool", "content": "42"}]})
    assert tools.left_out == ("tools", "messages.tool")


def test_generate_with_context_becomes_the_session():
    made = twin("/api/generate", {"model": "m", "prompt": "¿Y el mar?", "context": [1, 2, 3]})
    assert made.lines == ("ollama run m", ">>> ¿Y el mar?", ">>> /bye") and made.note_key == "http.terminal.context"


def test_model_management_commands():
    assert twin("/api/pull", {"model": "gemma:2b", "insecure": False, "stream": True}).text == "ollama pull gemma:2b"
    assert twin("/api/pull", {"model": "m", "insecure": True}).text == "ollama pull --insecure m"
    assert twin("/api/tags", method="GET").text == "ollama list"
    assert twin("/api/ps", method="GET").text == "ollama ps"
    assert twin("/api/version", method="GET").text == "ollama --version"
    assert twin("/api/show", {"model": "gemma:2b"}).text == "ollama show gemma:2b"
    assert twin("/api/delete", {"model": "gemma:2b"}, "DELETE").text == "ollama rm gemma:2b"
    assert twin("/api/copy", {"source": "gemma:2b", "destination": "mi gemma"}).text == "ollama cp gemma:2b 'mi gemma'"
    stop = twin("/api/generate", {"model": "gemma:2b", "keep_alive": 0})
    assert stop.text == "ollama stop gemma:2b" and stop.note_key == "http.terminal.stop"
    assert twin("/api/generate", {"model": "m", "keep_alive": "0s"}).text == "ollama stop m"
    load = twin("/api/generate", {"model": "m"})
    assert load.lines == ("ollama run m", ">>> /bye") and load.note_key == "http.terminal.load"


def test_create_writes_the_modelfile_first():
    made = twin("/api/create", {"model": "profe", "from": "gemma:2b", "system": "Eres profe.\nEOF",
                                "parameters": {"temperature": 0.2, "stop": ["<|im_end|>", "###"]}, "stream": True})
    assert made.lines == ("cat > Modelfile <<'EOF'", "FROM gemma:2b", "PARAMETER temperature 0.2",
                          'PARAMETER stop "<|im_end|>"', 'PARAMETER stop "###"', 'SYSTEM """Eres profe.',
                          'EOF"""', "EOF", "ollama create profe -f Modelfile")
    # the here-document gives the shell the Modelfile unchanged (printed here instead of written)
    printed = subprocess.run(["sh", "-c", "\n".join(made.lines[:-1]).replace("cat > Modelfile", "cat")],
                             capture_output=True, text=True, check=True, timeout=10).stdout
    assert printed == "\n".join(made.lines[1:7]) + "\n"
    fenced = twin("/api/create", {"model": "p", "from": "m", "system": "a\nEOF\nb"})
    assert fenced.lines[0] == "cat > Modelfile <<'EOF_'" and fenced.lines[-2] == "EOF_"


def test_embed_is_one_run_per_text():
    made = twin("/api/embed", {"model": "all-minilm", "input": ["El gato duerme.", "it's"], "truncate": False,
                               "dimensions": 128})
    assert made.lines == ("ollama run all-minilm --truncate=false --dimensions 128 'El gato duerme.'",
                          "ollama run all-minilm --truncate=false --dimensions 128 'it'\\''s'")
    assert twin("/api/embed", {"model": "m", "input": "uno"}).text == "ollama run m 'uno'"


def test_another_server_is_named_with_ollama_host():
    made = twin("/api/generate", {"model": "m", "prompt": "x", "options": {"seed": 1}}, url="http://127.0.0.1:11435")
    assert made.lines[0] == "OLLAMA_HOST=http://127.0.0.1:11435 ollama run m"
    assert twin("/api/tags", method="GET", url="http://localhost:11434").text == "ollama list"
    assert twin("/api/tags", method="GET", url="http://10.0.0.5:11434").text == "OLLAMA_HOST=http://10.0.0.5:11434 ollama list"


def test_no_twin_for_the_root_or_an_unknown_path():
    assert twin("/", method="HEAD") is None and twin("/api/blobs/sha256:x", {}, "HEAD") is None


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_note_and_command_is_explained(lang):
    catalog = i18n.catalog(lang)
    keys = {f"http.terminal.repl.{name}" for name, _ in REPL_COMMANDS} | {
        f"http.terminal.{name}" for name in ("one_shot", "session_generate", "session_chat", "history", "context",
                                             "images", "stop", "load", "embed", "create", "show", "version")}
    assert keys <= set(catalog)
    assert len({command for _, command in REPL_COMMANDS}) == len(REPL_COMMANDS)
