"""The chat playground's history and exports (Streamlit), kept out of pages/chat.py.

A long conversation stays fast: only the latest turns are drawn (older ones on request), each
answer's "Show the HTTP" is built only while open, and the exports are made only when clicked.
"""
from __future__ import annotations

import streamlit as st

from lib import chat, ui
from lib.generation import Generation
from lib.safe_text import model_markdown
from lib.ui import t


def _shown(value: float | int | None, pattern: str = "{:.2f}") -> str:
    return "—" if value is None else pattern.format(value)


def metrics_caption(metrics: Generation) -> str:
    return t("chat.metrics", prompt=_shown(metrics.prompt_tokens, "{}"), output=_shown(metrics.output_tokens, "{}"),
             speed=_shown(metrics.tokens_per_second, "{:.1f}"), first=_shown(metrics.first_token_s),
             load=_shown(metrics.load_s), wall=_shown(metrics.wall_s))


def history(conversation: chat.Conversation) -> None:
    """The latest turns, with a control that shows earlier ones."""
    first, turns = conversation.first_shown, conversation.turns
    if first:
        row = st.columns([2, 1, 1], vertical_alignment="center")
        row[0].caption(t("chat.hidden", count=first))
        row[1].button(t("chat.show_earlier", count=min(chat.WINDOW, first)), key="chat.show_earlier",
                      on_click=conversation.show_earlier, icon=":material/expand_less:", width="stretch")
        row[2].button(t("chat.show_all"), key="chat.show_all", on_click=conversation.show_all,
                      icon=":material/unfold_more:", width="stretch")
    for number in range(first, len(turns)):
        turn = turns[number]
        with st.chat_message(turn.role):
            st.markdown(model_markdown(turn.content))  # formatting kept; images and HTML as text
            if turn.stopped:
                st.caption(t("chat.stopped"))
            if turn.error:
                st.caption(t("chat.failed"))
            if turn.metrics:
                st.caption(metrics_caption(turn.metrics))
            if turn.exchange is not None:  # keyed by the turn's place: a panel stays open as turns come
                ui.show_http(turn.exchange, key=f"chat.http.{number}")


def export_buttons(json_column, markdown_column, settings: chat.Settings, turns: list[chat.Turn]) -> None:
    """JSON and Markdown of the whole conversation, made when clicked (a long chat is megabytes)."""
    labels = {k: t(f"chat.md.{k}") for k in ("title", "model", "options", "system", "user", "assistant",
                                              "stopped", "error")}
    json_column.download_button(t("chat.export_json"), lambda: chat.export_json(settings, turns), "chat.json",
                                mime="application/json", icon=":material/download:", disabled=not turns,
                                on_click="ignore", key="chat.export_json")
    markdown_column.download_button(t("chat.export_md"), lambda: chat.export_markdown(settings, turns, labels),
                                    "chat.md", mime="text/markdown", icon=":material/description:",
                                    disabled=not turns, on_click="ignore", key="chat.export_md")
