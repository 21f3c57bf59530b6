"""The Server page's guide, per operating system: the commands that install, start and share Ollama.

Data, not layout: pages/server.py draws one tab per system from `GUIDE`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SystemGuide:
    install: str  # the command (or package manager call) that installs Ollama
    install_language: str  # how st.code highlights it
    serve: str  # start it, or look at it running
    first_model: str  # pull and list a first small model
    share: str  # listen on every interface and allow browser origins

    @property
    def shell(self) -> str:
        return "powershell" if self.install_language == "powershell" else "bash"


_FIRST_MODEL = "ollama pull gemma3:1b\nollama list"

GUIDE = {
    "linux": SystemGuide(
        "curl -fsSL https://ollama.com/install.sh | sh", "bash",
        "ollama serve\nsystemctl status ollama", _FIRST_MODEL,
        'OLLAMA_HOST=0.0.0.0 OLLAMA_ORIGINS="*" ollama serve\n\n'
        "sudo systemctl edit ollama\n"
        '[Service]\nEnvironment="OLLAMA_HOST=0.0.0.0"\nEnvironment="OLLAMA_ORIGINS=*"'),
    "macos": SystemGuide(
        "brew install ollama", "bash", "ollama serve", _FIRST_MODEL,
        'launchctl setenv OLLAMA_HOST "0.0.0.0"\nlaunchctl setenv OLLAMA_ORIGINS "*"'),
    "windows": SystemGuide(
        "winget install Ollama.Ollama", "powershell", "ollama serve", _FIRST_MODEL,
        'setx OLLAMA_HOST "0.0.0.0"\nsetx OLLAMA_ORIGINS "*"'),
    "docker": SystemGuide(
        "docker run -d -v ollama:/root/.ollama -p 11434:11434 --name ollama ollama/ollama", "bash",
        "docker logs -f ollama", "docker exec -it ollama ollama pull gemma3:1b",
        'docker run -d -v ollama:/root/.ollama -p 0.0.0.0:11434:11434 -e OLLAMA_ORIGINS="*" '
        "--name ollama ollama/ollama"),
}
SYSTEMS = tuple(GUIDE)
