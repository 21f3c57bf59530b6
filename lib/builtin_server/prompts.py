"""The bundled templates written out in Python: what lib.builtin_server.gotemplate must render them to.

The engine renders every prompt through gotemplate (Ollama's rules, any installed template); these
twins are its reference for the two bundled models (tests compare them on many conversations).
"""
from __future__ import annotations

from typing import Sequence


def base_prompt(messages: Sequence[dict]) -> str:
    """bundled.BASE_TEMPLATE as Ollama runs a template without `.Messages`: once per turn (system,
    prompt, response), the texts simply joined; the last turn ends after the (partial) response."""
    system, collated = _collate(messages)
    out, turn = [], {"system": "", "prompt": "", "response": ""}

    def flush() -> None:
        text = f"{turn['system']}\n\n" if turn["system"] else ""
        out.append(text + turn["prompt"] + turn["response"])
        turn.update(system="", prompt="", response="")

    for m in collated:
        if m["role"] == "system":
            if turn["prompt"] or turn["response"]:
                flush()
            turn["system"] = m["content"]
        elif m["role"] == "user":
            if turn["response"]:
                flush()
            turn["prompt"] = m["content"]
        elif m["role"] == "assistant":
            turn["response"] = m["content"]
    flush()
    return "".join(out)


def chatml_prompt(messages: Sequence[dict]) -> str:
    """bundled.SMOLLM2_TEMPLATE (Ollama's smollm2): the system texts in one system turn, then user and
    assistant turns (tool messages are dropped, as that template does); an open assistant turn after a
    last message that is not the assistant's, whose text is otherwise continued."""
    system, collated = _collate(messages)
    parts = [f"<|im_start|>system\n{system}<|im_end|>\n"] if system else []
    for i, m in enumerate(collated):
        last = i == len(collated) - 1
        if m["role"] == "user":
            parts.append(f"<|im_start|>user\n{m['content']}<|im_end|>\n")
        elif m["role"] == "assistant":
            parts.append(f"<|im_start|>assistant\n{m['content']}")
            if not last:
                parts.append("<|im_end|>\n")
        if m["role"] != "assistant" and last:
            parts.append("<|im_start|>assistant\n")
    if not collated:  # the template's other branch: no prompt, an open assistant turn
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def _collate(messages: Sequence[dict]) -> tuple[str, list[dict]]:
    system, collated = [], []
    for m in messages:
        role, content = m["role"], m.get("content") or ""
        if role == "system":
            system.append(content)
        if collated and collated[-1]["role"] == role and role != "tool":
            collated[-1] = {"role": role, "content": collated[-1]["content"] + "\n\n" + content}
        else:
            collated.append({"role": role, "content": content})
    return "\n\n".join(system), collated
