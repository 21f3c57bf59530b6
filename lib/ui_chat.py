"""The chat playground's history, exports and saved conversations (Streamlit), kept out of
pages/chat.py.

A long conversation stays fast: only the latest turns are drawn (older ones on request), each
answer's "Show the HTTP" is built only while open, and the exports are made only when clicked.

A conversation is saved (lib/persistence.py, through lib/ui_persistence.py) whenever its turns or
its settings change, but never while an answer streams: after the question, after the answer
ends (done, failed or stopped), and before another conversation replaces it. A reload brings back
the one used last, with its settings; the others can be reopened from the list.
"""
from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from lib import chat, persistence, ui, ui_persistence
from lib.formatting import age_parts
from lib.generation import Generation
from lib.safe_text import model_markdown
from lib.ui import t

KEY = "chat.conversation"
SAVED_KEY = "chat.saved"  # (conversation id, revision, settings) as last written
# The settings saved with a conversation: the widgets' keys (chat.setting.<name>) and their types.
SETTINGS = {"model": str, "mode": str, "stream": bool, "system": str, "json": bool, "keep_alive": str,
            "carry": bool, "stop": str, "advanced": str,
            **{name: (low, high) for name, low, high, _ in ui.COMMON_OPTIONS}}


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


# ------------------------------------------------------------------------------ saved conversations
def conversation() -> chat.Conversation:
    """This session's conversation; a new session (a reload, a lost connection) starts from the
    one this browser used last."""
    current = st.session_state.get(KEY)
    if current is None:
        current = st.session_state[KEY] = chat.Conversation()
        store, browser = ui_persistence.store(), ui_persistence.browser()
        if saved := ui_persistence.attempt("read", store.conversation, browser):
            _open(current, saved)
    return current


def _settings() -> dict:
    return {name: st.session_state[f"chat.setting.{name}"] for name in SETTINGS
            if f"chat.setting.{name}" in st.session_state}


def _valid(name: str, value) -> bool:
    kind = SETTINGS[name]
    if isinstance(kind, tuple):  # a number within the input's bounds
        return not isinstance(value, bool) and isinstance(value, (int, float)) and kind[0] <= value <= kind[1]
    return isinstance(value, kind) and (name != "mode" or value in ("chat", "generate"))


def _open(current: chat.Conversation, saved: persistence.Conversation) -> None:
    """A saved conversation on screen, with the settings it was had with."""
    try:
        turns = chat.from_saved_form(saved.data)
    except chat.ImportRefused:
        ui.flash("warning", t("chat.saved_unreadable"), icon=":material/warning:")
        return
    current.replace(turns, saved.id)
    for name in SETTINGS:
        value = saved.settings.get(name) if isinstance(saved.settings, dict) else None
        if value is not None and _valid(name, value):
            st.session_state[f"chat.setting.{name}"] = value
        else:
            st.session_state.pop(f"chat.setting.{name}", None)
    st.session_state[SAVED_KEY] = (current.id, current.revision, _settings())


def save(current: chat.Conversation) -> None:
    """Writes the conversation if its turns or settings changed since the last write. Not while an
    answer streams (the run that ends it saves it), and not while it is empty."""
    if current.live is not None or not current.turns:
        return
    revision, settings = current.revision, _settings()
    last = st.session_state.get(SAVED_KEY)
    if settings.get("model") is None and last and last[0] == current.id:
        settings["model"] = last[2].get("model")  # a server that lists no models now: keep the choice
    if last == (current.id, revision, settings):
        return
    if ui_persistence.attempt("chat", ui_persistence.store().save_conversation, ui_persistence.browser(),
                              current.id, chat.saved_form(current), settings):
        st.session_state[SAVED_KEY] = (current.id, revision, settings)


def leave(current: chat.Conversation) -> None:
    """Before another conversation takes the screen: an answer still streaming ends, keeping what
    arrived, and the conversation is saved as it is."""
    current.settle()
    save(current)


def start(current: chat.Conversation, example: bool = False) -> None:
    """A new conversation (empty, or the course example); the one left stays in the list."""
    leave(current)
    if example:
        current.load_example()
    else:
        current.replace([])


def reopen(current: chat.Conversation, conversation_id: str) -> None:
    saved = ui_persistence.attempt("read", ui_persistence.store().conversation, ui_persistence.browser(),
                                   conversation_id)
    if saved:
        leave(current)
        _open(current, saved)
        ui_persistence.attempt("chat", ui_persistence.store().mark_used, ui_persistence.browser(), conversation_id)


def delete(current: chat.Conversation, conversation_id: str) -> None:
    """Removed from the file; deleting the one on screen starts a new one."""
    if conversation_id == current.id:
        current.settle()
        current.replace([])
    if ui_persistence.attempt("chat", ui_persistence.store().delete_conversation, ui_persistence.browser(),
                              conversation_id):
        ui.flash("success", t("chat.deleted"), icon=":material/delete:")


def _confirm_delete(current: chat.Conversation, saved: persistence.Saved) -> None:
    @st.dialog(t("chat.delete.title"))
    def confirm() -> None:
        st.warning(ui.t_escaped("chat.delete.confirm", title=saved.title or t("chat.untitled")),
                   icon=":material/warning:")
        yes, no = st.columns(2)
        if (yes.button(t("chat.delete.yes"), key="chat.delete.yes", type="primary", on_click=delete,
                       args=(current, saved.id))
                or no.button(t("chat.delete.no"), key="chat.delete.no")):
            st.rerun()  # closes the dialog

    confirm()


def conversations(column, current: chat.Conversation) -> None:
    """This browser's saved conversations, to reopen or delete; listed only while open."""
    menu = column.popover(t("chat.conversations"), icon=":material/forum:", key="chat.conversations",
                          on_change="rerun", width="stretch")
    if not menu.open:
        return
    saved = ui_persistence.attempt("read", ui_persistence.store().conversations, ui_persistence.browser(),
                                   otherwise=[])
    deleting = None
    with menu:
        st.caption(t("chat.conversations.private", most=persistence.MAX_CONVERSATIONS))
        if not saved:
            st.caption(t("chat.conversations.none"))
        for item in saved:
            when = ui.age(age_parts(datetime.fromtimestamp(item.used, timezone.utc)))
            row = st.columns([8, 1], vertical_alignment="center")
            row[0].button(ui.t_escaped("chat.conversations.item", title=item.title or t("chat.untitled"),
                                       count=item.turns, when=when),
                          key=f"chat.open.{item.id}", on_click=reopen, args=(current, item.id),
                          disabled=item.id == current.id, type="tertiary", width="stretch")
            if row[1].button("", icon=":material/delete:", key=f"chat.delete.{item.id}", help=t("chat.delete")):
                deleting = item
    if deleting is not None:
        _confirm_delete(current, deleting)
