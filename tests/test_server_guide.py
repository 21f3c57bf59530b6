"""The Server page's guide and environment table: the commands per system and the facts they state."""
import re

import pytest

from lib import i18n, server_guide
from lib.ollama_facts import default_context_length


def commands(system: str, step: str) -> list[str]:
    return [block.code for s in server_guide.GUIDE[system] if s.name == step for block in s.blocks]


def test_the_docker_share_step_removes_the_installed_container_first():
    """`docker run --name ollama` a second time fails with "name already in use" (docs/docker.mdx)."""
    install, = commands("docker", "install")
    share, = commands("docker", "share")
    assert "--name ollama" in install and "-p 11434:11434" in install
    remove, run = share.splitlines()
    assert remove == "docker rm -f ollama" and run.startswith("docker run -d -v ollama:/root/.ollama -p 11434:11434")
    assert "0.0.0.0:11434:11434" not in share  # -p already publishes on every interface


def test_no_command_allows_every_origin():
    every = [code for system in server_guide.SYSTEMS for step in server_guide.GUIDE[system] for code in
             (block.code for block in step.blocks)]
    assert not [code for code in every if re.search(r"OLLAMA_ORIGINS=\W?\*", code)]


@pytest.mark.parametrize("system, stop, log", [
    ("linux", "sudo systemctl stop ollama", "journalctl -u ollama --no-pager --follow --pager-end"),
    ("macos", "brew services stop ollama", "cat ~/.ollama/logs/server.log"),
    ("docker", "docker stop ollama\ndocker start ollama", "docker logs -f ollama"),
])
def test_stop_and_log_per_system(system, stop, log):
    assert stop in commands(system, "stop") and log in commands(system, "logs")


def test_windows_stops_from_the_tray_and_logs_in_localappdata():
    assert commands("windows", "stop") == []  # no command: quit from the tray, or Ctrl-C
    assert "$env:LOCALAPPDATA\\Ollama\\server.log" in commands("windows", "logs")[0]
    for lang in i18n.LANGUAGES:
        assert "Ctrl-C" in i18n.translate(lang, "guide.stop.windows")
        assert "%LOCALAPPDATA%\\Ollama\\server.log" in i18n.translate(lang, "guide.logs.windows")


def test_linux_without_systemd_and_a_pinned_version():
    serve = commands("linux", "serve")
    assert serve[0] == "systemctl status ollama" and serve[1].startswith("ollama serve") and serve[1].endswith("&")
    assert "| OLLAMA_VERSION=0.33.0 sh" in commands("linux", "install")[1]
    for lang, words in (("es", ("Gitpod", "Codespaces", "systemd", "403")), ("en", ("Gitpod", "Codespaces", "systemd", "403"))):
        assert all(word in i18n.translate(lang, "guide.serve.no_systemd") for word in words)


def test_macos_names_the_app_and_the_brew_formula():
    install = commands("macos", "install")[0]
    assert install == "brew install ollama\nbrew services start ollama"
    share = commands("macos", "share")
    assert share[0].startswith("launchctl setenv OLLAMA_HOST") and share[1].startswith("brew services stop ollama")
    assert "Ollama.dmg" in i18n.translate("en", "guide.install.macos")
    assert "without the app" in i18n.translate("en", "guide.install.brew")
    assert "sin la aplicación" in i18n.translate("es", "guide.install.brew")


def test_every_text_the_guide_names_exists_in_both_languages():
    keys = {f"guide.{step.name}" for steps in server_guide.GUIDE.values() for step in steps}
    keys |= {key for steps in server_guide.GUIDE.values() for step in steps for key in step.text}
    keys |= {block.note for steps in server_guide.GUIDE.values() for step in steps for block in step.blocks
             if block.note}
    for lang in i18n.LANGUAGES:
        assert not [key for key in sorted(keys) if key not in i18n.catalog(lang)]


@pytest.mark.parametrize("vram_gib, num_ctx", [(0, 4096), (8, 4096), (22.9, 4096), (24, 32768), (46, 32768),
                                               (48, 262144), (80, 262144)])
def test_default_context_length_by_vram(vram_gib, num_ctx):
    assert default_context_length(vram_gib) == num_ctx


@pytest.mark.parametrize("lang, rows", [
    ("en", {"OLLAMA_NUM_PARALLEL": "| 1 |", "OLLAMA_MAX_LOADED_MODELS": "| 3 per GPU (3 without a GPU) |",
            "OLLAMA_MAX_QUEUE": "| 512 |", "OLLAMA_KEEP_ALIVE": "| `5m` |",
            "OLLAMA_CONTEXT_LENGTH": "| by VRAM: 4096 (no GPU or under 24 GiB), 32768 (24 to 48 GiB), 262144 (48 GiB or more) |",
            "OLLAMA_HOST": "| `127.0.0.1:11434` |"}),
    ("es", {"OLLAMA_NUM_PARALLEL": "| 1 |", "OLLAMA_MAX_LOADED_MODELS": "| 3 por GPU (3 sin GPU) |",
            "OLLAMA_MAX_QUEUE": "| 512 |", "OLLAMA_KEEP_ALIVE": "| `5m` |",
            "OLLAMA_CONTEXT_LENGTH": "| según la VRAM: 4096 (sin GPU o menos de 24 GiB), 32768 (de 24 a 48 GiB), 262144 (48 GiB o más) |"}),
])
def test_env_table_defaults(lang, rows):
    table = server_guide.env_table(lambda key, **values: i18n.translate(lang, key, **values)).splitlines()
    assert len(table) == 2 + len(server_guide.ENV_VARS)
    for name, default in rows.items():
        row, = [line for line in table if line.startswith(f"| `{name}` |")]
        assert default in row, row
    queue, = [line for line in table if "OLLAMA_MAX_QUEUE" in line]
    assert "503" in queue


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_the_security_box(lang):
    text = i18n.translate(lang, "guide.security", **server_guide.ALLOWED_ORIGINS)
    for word in ("DELETE /api/delete", "/api/pull", 'OLLAMA_ORIGINS="*"', "`localhost`", "`127.0.0.1`", "`0.0.0.0`",
                 "`app://`", "`file://`", "`tauri://`", "`vscode-webview://`", "COMPANION_READ_ONLY", "11434"):
        assert word in text, word


@pytest.mark.parametrize("lang, words", [("es", ("num_ctx", "OLLAMA_NUM_PARALLEL", "ollama stop", "Q4_K_M")),
                                         ("en", ("num_ctx", "OLLAMA_NUM_PARALLEL", "ollama stop", "Q4_K_M"))])
def test_out_of_memory_advice_is_not_a_q4_quantisation(lang, words):
    advice = i18n.translate(lang, "diag.out_of_memory.advice")
    assert all(word in advice for word in words) and "q4 " not in advice.lower().replace("q4_k_m", "")


@pytest.mark.parametrize("lang, words", [("es", "repeat_penalty pasó de 1,1 a 1,0 en la 0.32.10"),
                                         ("en", "repeat_penalty went from 1.1 to 1.0 in 0.32.10")])
def test_why_a_class_pins_one_version(lang, words):
    text = i18n.translate(lang, "env.pin", **server_guide.PIN)
    assert words in text and "OLLAMA_VERSION=0.33.0 sh" in text
