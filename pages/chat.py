"""3. Chat playground: /api/chat and /api/generate, streamed or whole, system prompt, options, history."""
import json

import streamlit as st

from lib import chat, options as option_reference, ui
from lib.client import ModelNotFound, OllamaError

ui.ensure_app_frame()
t = ui.t
ui.page_title("chat")
client = ui.client()
TURNS, PENDING, ERROR, LIVE = "chat.turns", "chat.pending", "chat.error", "chat.live"
turns: list[chat.Turn] = st.session_state.setdefault(TURNS, [])


def settle_live_answer() -> None:
    """A new run while an answer streams (Stop, or any other click) ends that answer here.

    Streamlit 1.67 starts the new run before the old one has stopped, so the old run cannot be
    the one that records the partial answer: this run closes its stream and keeps what arrived."""
    if live := st.session_state.pop(LIVE, None):
        stream, turn = live
        stream.close()
        turn.content, turn.stopped, turn.exchange = stream.text, True, stream.exchange


settle_live_answer()


def fmt(value, pattern="{:.2f}") -> str:
    return "—" if value is None else pattern.format(value)


# ------------------------------------------------------------------------------ settings
names = ui.installed_model_names("chat.tags")
if st.session_state.get("chat.setting.model") not in names:
    st.session_state.pop("chat.setting.model", None)  # another server, or the model was deleted
top = st.columns([3, 2, 2], vertical_alignment="bottom")
model = top[0].selectbox(t("chat.model"), names, key="chat.setting.model", placeholder=t("chat.no_models"))
mode = top[1].radio(t("chat.mode"), ["chat", "generate"], key="chat.setting.mode", horizontal=True,
                    format_func=ui.labels("chat.mode."))
streaming = top[2].toggle(t("chat.stream"), key=ui.setting("chat", "stream", True), help=t("chat.stream_help"))
if not names:
    st.page_link("pages/models.py", label=t("chat.go_models"), icon=":material/inventory_2:")

with st.expander(t("chat.settings"), icon=":material/tune:"):
    system = st.text_area(t("chat.system"), key="chat.setting.system", height=80,
                          placeholder=t("chat.system_placeholder"), help=t("chat.system_help"))
    chosen_options, option_problems = ui.option_inputs("chat")
    row = st.columns(3)
    as_json = row[0].toggle(t("chat.format_json"), key="chat.setting.json", help=t("chat.format_json_help"))
    keep_alive_text = row[1].text_input("keep_alive", key="chat.setting.keep_alive", placeholder="5m",
                                        help=t("chat.keep_alive_help"))
    carry = row[2].toggle(t("chat.carry_context"), key=ui.setting("chat", "carry", True),
                          help=t("chat.carry_context_help"), disabled=mode != "generate")
try:
    keep_alive = option_reference.parse_keep_alive(keep_alive_text or "")
except ValueError:
    st.warning(t("chat.keep_alive_invalid", value=keep_alive_text), icon=":material/warning:")
    option_problems = [*option_problems, "keep_alive"]
    keep_alive = None


# ------------------------------------------------------------------------------ actions
def load_example() -> None:
    turns[:] = chat.course_example()
    st.session_state[PENDING] = True


def regenerate() -> None:
    turns[:] = chat.without_last_answer(turns)
    st.session_state[PENDING] = bool(turns)


def clear() -> None:
    turns.clear()
    st.session_state[PENDING] = False


def import_chat() -> None:
    upload = st.session_state.get("chat.import")
    if upload is None:
        return
    try:
        imported = chat.import_json(upload.getvalue())
    except chat.ImportRefused as refused:
        st.session_state["chat.import_error"] = refused
        return
    turns[:] = imported.turns
    st.session_state[PENDING] = False
    st.session_state["chat.setting.system"] = imported.system
    st.session_state["chat.setting.mode"] = imported.mode
    if imported.model in names:
        st.session_state["chat.setting.model"] = imported.model
    st.session_state["chat.setting.advanced"] = json.dumps(imported.options, ensure_ascii=False) if imported.options else ""
    for name, *_ in ui.COMMON_OPTIONS:  # the advanced box carries them all
        st.session_state.pop(f"chat.setting.{name}", None)
    st.session_state.pop("chat.setting.stop", None)


actions = st.columns(5)
actions[0].button(t("chat.example"), on_click=load_example, icon=":material/school:",
                  help=t("chat.example_help"), disabled=not model)
actions[1].button(t("chat.regenerate"), on_click=regenerate, icon=":material/refresh:",
                  disabled=not model or not any(turn.role == "user" for turn in turns))
actions[2].button(t("chat.clear"), on_click=clear, icon=":material/delete_sweep:", disabled=not turns)
export_args = (model or "", mode, system or "", chosen_options, turns)
actions[3].download_button(t("chat.export_json"), chat.export_json(*export_args), "chat.json",
                           mime="application/json", icon=":material/download:", disabled=not turns,
                           on_click="ignore")
labels = {k: t(f"chat.md.{k}") for k in ("title", "model", "options", "system", "user", "assistant",
                                          "stopped", "error")}
actions[4].download_button(t("chat.export_md"), chat.export_markdown(*export_args, labels), "chat.md",
                           mime="text/markdown", icon=":material/description:", disabled=not turns,
                           on_click="ignore")
with st.expander(t("chat.import"), icon=":material/upload:"):
    st.file_uploader(t("chat.import_file"), type=["json"], key="chat.import", on_change=import_chat)
if refused := st.session_state.pop("chat.import_error", None):
    st.error(t(refused.key, **refused.values), icon=":material/error:")

# ------------------------------------------------------------------------------ history
if prompt := st.chat_input(t("chat.input"), disabled=not model):
    turns.append(chat.Turn("user", prompt))
    st.session_state[PENDING] = True

for number, turn in enumerate(turns):
    with st.chat_message(turn.role):
        st.markdown(turn.content)  # Markdown, never raw HTML
        if turn.stopped:
            st.caption(t("chat.stopped"))
        if turn.error:
            st.caption(t("chat.failed"))
        if turn.metrics:
            m = turn.metrics
            st.caption(t("chat.metrics", prompt=fmt(m["prompt_tokens"], "{}"), output=fmt(m["output_tokens"], "{}"),
                         speed=fmt(m["tokens_per_second"], "{:.1f}"), first=fmt(m["first_token_s"]),
                         load=fmt(m["load_s"]), wall=fmt(m["wall_s"])))
        if turn.exchange is not None:
            ui.show_http(turn.exchange, key=f"chat.http.{number}")

if error := st.session_state.pop(ERROR, None):
    ui.show_error(error, key="chat.error")
    if isinstance(error, ModelNotFound):
        st.page_link("pages/models.py", label=t("chat.go_models"), icon=":material/inventory_2:")


# ------------------------------------------------------------------------------ answer
def send(stream: bool):
    common = {"options": chosen_options or None, "format": "json" if as_json else None,
              "keep_alive": keep_alive}
    if mode == "chat":
        return client.chat(model, chat.chat_messages(system or "", turns), stream=stream, **common)
    return client.generate(model, stream=stream, **chat.generate_fields(system or "", turns, carry), **common)


def answer() -> None:
    """Stream (or wait for) the answer to the last question. Whatever happens, what arrived is kept:
    Stop (or any click) interrupts the run, and `finally` saves the partial text as stopped."""
    st.session_state[PENDING] = False
    turn, stream, finished = chat.Turn("assistant", ""), None, False
    try:
        with st.chat_message("assistant"):
            stop_area = st.empty()
            if streaming:
                stop_area.button(t("chat.stop"), key="chat.stop", icon=":material/stop_circle:")
                stream = send(stream=True)
                turns.append(turn)
                st.session_state[LIVE] = (stream, turn)
                st.write_stream(stream.texts())
                if stream.stopped:  # settled by the run that the Stop click started
                    return
                final, exchange, turn.content = stream.final, stream.exchange, stream.text
            else:
                with st.spinner(t("chat.waiting")):
                    final = send(stream=False)
                exchange = client.last
                turn.content = final.get("response") or (final.get("message") or {}).get("content") or ""
                turns.append(turn)
            finished = True
            turn.metrics, turn.context, turn.exchange = chat.metrics(final, exchange), final.get("context"), exchange
    except OllamaError as error:
        finished = True
        turn.error, turn.exchange = error.message, error.exchange
        if stream is not None:
            turn.content = stream.text
        elif turn not in turns:
            turns.append(turn)
        st.session_state[ERROR] = error
    finally:
        if stream is not None:
            if st.session_state.get(LIVE, (None,))[0] is stream:
                del st.session_state[LIVE]
            if not finished and not turn.stopped:  # interrupted: another page, say
                turn.content, turn.stopped, turn.exchange = stream.text, True, stream.exchange
            stream.close()
    st.rerun()  # draw the answer in the history, with its numbers and its HTTP


if st.session_state.get(PENDING) and model and turns and turns[-1].role == "user":
    if option_problems:
        st.session_state[PENDING] = False
        st.error(t("chat.fix_options"), icon=":material/error:")
    else:
        answer()
