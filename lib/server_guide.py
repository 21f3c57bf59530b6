"""The Server page's guide, per operating system: install, start, pull, share, stop, read the log.

Data, not layout: pages/server.py draws one tab per system from `GUIDE`, a list of steps; each step
has a title (`guide.<step>`), a text (`guide.<step>.<system>` or `guide.<step>.text`) and code
blocks, each with an optional note. `env_table` explains the server's environment variables.

Sources (ollama/ollama at v0.33, fb30760): docs/linux.mdx (install script, `OLLAMA_VERSION=`,
systemd service, `systemctl stop`), docs/macos.mdx (the .dmg app is the preferred install),
docs/faq.mdx (`launchctl setenv` then restart the app; Windows: quit from the taskbar, `setx`;
`ollama stop`; concurrency variables), docs/docker.mdx (`docker run ... -p 11434:11434 --name ollama`),
Dockerfile (`ENV OLLAMA_HOST=0.0.0.0:11434`), docs/troubleshooting.mdx (log locations).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lib.ollama_facts import (CONTEXT_BY_VRAM_GIB, DEFAULT_HOST, DEFAULT_KEEP_ALIVE, DEFAULT_MAX_QUEUE,
                              DEFAULT_NUM_PARALLEL, DEFAULT_PORT, MODELS_PER_GPU, OPTIONS_BY_NAME, ORIGIN_HOSTS,
                              ORIGIN_SCHEMES, REPEAT_PENALTY_BEFORE)


@dataclass(frozen=True)
class Block:
    code: str
    language: str = "bash"
    note: str | None = None  # i18n key of a caption above the code


@dataclass(frozen=True)
class Step:
    name: str  # guide.<name> is its title
    text: tuple[str, ...]  # i18n keys of its explanation
    blocks: tuple[Block, ...] = ()
    check: str | None = None  # which check button follows: cli, serve, models, shared


def _steps(system: str, install: tuple[Block, ...], serve: tuple[Block, ...], pull: str,
           share: tuple[Block, ...], stop: tuple[Block, ...], logs: tuple[Block, ...]) -> tuple[Step, ...]:
    return (Step("install", (f"guide.install.{system}",), install, "cli"),
            Step("serve", (f"guide.serve.{system}",), serve, "serve"),
            Step("pull", ("guide.pull.text",), (Block(pull),), "models"),
            Step("share", ("guide.share.text", f"guide.share.{system}"), share, "shared"),
            Step("stop", (f"guide.stop.{system}",), stop),
            Step("logs", (f"guide.logs.{system}",), logs))


_PULL = "ollama pull gemma3:1b\nollama list"
_SHARE_NOW = "OLLAMA_HOST=0.0.0.0 ollama serve"  # no OLLAMA_ORIGINS: see guide.security
PS = "powershell"

GUIDE = {
    "linux": _steps(
        "linux",
        (Block("curl -fsSL https://ollama.com/install.sh | sh"),
         Block("curl -fsSL https://ollama.com/install.sh | OLLAMA_VERSION=0.33.0 sh", note="guide.pin")),
        (Block("systemctl status ollama", note="guide.serve.systemd"),
         Block("ollama serve > ollama.log 2>&1 &", note="guide.serve.no_systemd")),
        _PULL,
        (Block("sudo systemctl edit ollama\n\n[Service]\nEnvironment=\"OLLAMA_HOST=0.0.0.0\"\n\n"
               "sudo systemctl restart ollama", note="guide.share.systemd"),
         Block(_SHARE_NOW, note="guide.share.terminal")),
        (Block("sudo systemctl stop ollama"),),
        (Block("journalctl -u ollama --no-pager --follow --pager-end", note="guide.logs.systemd"),
         Block("tail -f ollama.log", note="guide.logs.no_systemd"))),
    "macos": _steps(
        "macos",
        (Block("brew install ollama\nbrew services start ollama", note="guide.install.brew"),),
        (Block("ollama serve"),),
        _PULL,
        (Block('launchctl setenv OLLAMA_HOST "0.0.0.0"', note="guide.share.app"),
         Block(f"brew services stop ollama\n{_SHARE_NOW}", note="guide.share.brew")),
        (Block("brew services stop ollama", note="guide.stop.brew"),),
        (Block("cat ~/.ollama/logs/server.log"),)),
    "windows": _steps(
        "windows",
        (Block("winget install Ollama.Ollama", PS),),
        (Block("ollama serve", PS),),
        _PULL,
        (Block('setx OLLAMA_HOST "0.0.0.0"', PS),),
        (),
        (Block(r'Get-Content "$env:LOCALAPPDATA\Ollama\server.log" -Tail 50 -Wait', PS),)),
    "docker": _steps(
        "docker",
        (Block("docker run -d -v ollama:/root/.ollama -p 11434:11434 --name ollama ollama/ollama"),),
        (Block("docker ps --filter name=ollama"),),
        "docker exec -it ollama ollama pull gemma3:1b\ndocker exec -it ollama ollama list",
        # The name is taken by the install step's container: remove it first (the volume keeps the models).
        (Block("docker rm -f ollama\ndocker run -d -v ollama:/root/.ollama -p 11434:11434 "
               '-e OLLAMA_ORIGINS="http://aula.example:8080" --name ollama ollama/ollama'),),
        (Block("docker stop ollama\ndocker start ollama"),),
        (Block("docker logs -f ollama"),)),
}
SYSTEMS = tuple(GUIDE)
# The origins Ollama allows with OLLAMA_ORIGINS unset, for guide.security (envconfig.AllowedOrigins)
ALLOWED_ORIGINS = {"hosts": ", ".join(f"`{host}`" for host in ORIGIN_HOSTS),
                   "schemes": ", ".join(f"`{scheme}://`" for scheme in ORIGIN_SCHEMES)}

# Why a class pins one Ollama version: a default that changed (values for env.pin)
PIN = {"version": REPEAT_PENALTY_BEFORE[0], "before": REPEAT_PENALTY_BEFORE[1],
       "now": OPTIONS_BY_NAME["repeat_penalty"].default}

# --- environment variables --------------------------------------------------------------------------
# name -> values for env.<name>.default and env.<name>.what (envconfig/config.go, docs/faq.mdx)
ENV_VARS = {
    "OLLAMA_HOST": {"default": f"{DEFAULT_HOST}:{DEFAULT_PORT}"},
    "OLLAMA_ORIGINS": {},
    "OLLAMA_NUM_PARALLEL": {"default": DEFAULT_NUM_PARALLEL},
    "OLLAMA_MAX_LOADED_MODELS": {"per_gpu": MODELS_PER_GPU},
    "OLLAMA_MAX_QUEUE": {"default": DEFAULT_MAX_QUEUE},
    "OLLAMA_KEEP_ALIVE": {"default": f"{DEFAULT_KEEP_ALIVE / 60:g}m"},
    "OLLAMA_CONTEXT_LENGTH": {f"ctx{i}": num_ctx for i, (_, num_ctx) in enumerate(CONTEXT_BY_VRAM_GIB)},
}


def env_table(t: Callable[..., str]) -> str:
    """A Markdown table: variable, default, what it does and what it costs (t translates a key)."""
    rows = [f"| {t('env.col.name')} | {t('env.col.default')} | {t('env.col.what')} |", "|---|---|---|"]
    rows += [f"| `{name}` | {t(f'env.{name}.default', **values)} | {t(f'env.{name}.what', **values)} |"
             for name, values in ENV_VARS.items()]
    return "\n".join(rows)
