"""Prompt text for generate and chat: the Python twin of model.TEMPLATE (what /api/show reports)."""
from __future__ import annotations

from typing import Sequence


def generate_prompt(prompt: str, system: str, raw: bool) -> str:
    """Plain completion, the natural use of a base model: the system text, a blank line, the prompt.

    `raw` sends the prompt verbatim, as Ollama does (no system text, no template).
    """
    if raw or not system:
        return prompt
    return f"{system}\n\n{prompt}"


def chat_prompt(messages: Sequence[dict]) -> str:
    """Gemma turns, exactly as Ollama's gemma3 template renders them.

    System and tool messages become user turns (Gemma has no system role). The prompt ends with an
    open model turn unless the last message is the assistant's, which is then continued.
    """
    parts = []
    for i, message in enumerate(messages):
        last = i == len(messages) - 1
        content = message.get("content") or ""
        if message["role"] == "assistant":
            parts.append(f"<start_of_turn>model\n{content}")
            if not last:
                parts.append("<end_of_turn>\n")
        else:
            parts.append(f"<start_of_turn>user\n{content}<end_of_turn>\n")
            if last:
                parts.append("<start_of_turn>model\n")
    return "".join(parts)
