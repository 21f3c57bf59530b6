"""3. Chat playground: /api/chat and /api/generate, streamed or whole, system prompt, options, history,
saved conversations (a reload brings them back); a thinking model's reasoning and `think`, `format` as
JSON or a JSON Schema; what each option really runs with the chosen model, the tokens of an answer,
a warning near num_ctx, and two lessons (fluent is not correct; Ollama's real 404)."""
import contextlib
import json

import streamlit as st

from lib import chat, images, options as option_reference, ui, ui_chat, ui_persistence
from lib.client import ModelNotFound

ui.ensure_app_frame()
t = ui.t
ui.page_title("chat")
client = ui.client()
conversation = ui_chat.conversation()  # after a reload: the one this browser used last
# Streamlit 1.67 starts this run before the one it interrupts (Stop, any click) has stopped: an
# answer still streaming is ended here, keeping what had arrived.
conversation.settle()

# ------------------------------------------------------------------------------ settings
# One block whose content varies (an error, a note, a link): the settings below keep their place in
# the page, so a rerun that adds or drops a note does not close them under the student.
with st.container():
    names = ui.installed_model_names("chat.tags")
    if st.session_state.get("chat.setting.model") not in names:
        st.session_state.pop("chat.setting.model", None)  # another server, or the model was deleted
    ui_chat.start_with_the_builtin_instruct_model(names)
    top = st.columns([3, 3, 2, 2], vertical_alignment="bottom")
    model = top[0].selectbox(t("chat.model"), names, key="chat.setting.model", placeholder=t("chat.no_models"))
    ui_chat.builtin_model_note(model)
    mode = top[1].radio(t("chat.mode"), ["chat", "generate"], key="chat.setting.mode", horizontal=True,
                        format_func=ui.labels("chat.mode."))
    streaming = top[2].toggle(t("chat.stream"), key=ui.setting("chat", "stream", True), help=t("chat.stream_help"))
    show = ui_chat.model_facts(model)  # /api/show: capabilities ("thinking"?) and the model's PARAMETERs
    think_choices, think_levels = ui_chat.model_thinking(model, show)
    think = ui_chat.think_control(top[3], think_choices, think_levels)
    if not names:
        st.page_link("pages/models.py", label=t("chat.go_models"), icon=":material/inventory_2:")

with st.expander(t("chat.settings"), icon=":material/tune:"):
    system = st.text_area(t("chat.system"), key="chat.setting.system", height=80,
                          placeholder=t("chat.system_placeholder"), help=t("chat.system_help"))
    chosen_options, option_problems = ui.option_inputs("chat", ui_chat.option_placeholders(show))
    ui_chat.effective_table(model, show, chosen_options)  # server <- model PARAMETERs <- request
    row = st.columns(3)
    answer_format, schema_refused = ui_chat.format_controls(row[0])
    keep_alive_text = row[1].text_input(  # api/types.go Duration.UnmarshalJSON; docs/faq.mdx OLLAMA_KEEP_ALIVE
        "keep_alive", key="chat.setting.keep_alive", placeholder="5m", help=t("chat.keep_alive_help"))
    carry = row[2].toggle(t("chat.carry_context"), key=ui.setting("chat", "carry", True),
                          help=t("chat.carry_context_help"), disabled=mode != "generate")
try:
    keep_alive = option_reference.parse_keep_alive(keep_alive_text or "")
except ValueError:
    st.warning(t("chat.keep_alive_invalid", value=keep_alive_text), icon=":material/warning:")
    option_problems = [*option_problems, "keep_alive"]
    keep_alive = None
if schema_refused:
    st.error(ui.t_escaped(schema_refused.key, **schema_refused.values), icon=":material/data_object:")
    option_problems = [*option_problems, "format"]
settings = chat.Settings(model, mode, system or "", chosen_options, answer_format, keep_alive, carry, think)


# ------------------------------------------------------------------------------ actions
def import_chat() -> None:
    upload = st.session_state.get("chat.import")
    if upload is None:
        return
    try:
        imported = chat.import_json(upload.getvalue())
    except chat.ImportRefused as refused:
        ui.flash("error", t(refused.key, **refused.values), icon=":material/error:")
        return
    ui_chat.leave(conversation)  # kept in the list as it was
    conversation.replace(imported.turns)
    st.session_state["chat.setting.system"] = imported.system
    st.session_state["chat.setting.mode"] = imported.mode
    if imported.model in names:
        st.session_state["chat.setting.model"] = imported.model
    st.session_state["chat.setting.advanced"] = json.dumps(imported.options, ensure_ascii=False) if imported.options else ""
    for name, *_ in ui.COMMON_OPTIONS:  # the advanced box carries them all
        st.session_state.pop(f"chat.setting.{name}", None)
    st.session_state.pop("chat.setting.stop", None)


actions = st.columns(6)
actions[0].button(t("chat.example"), on_click=ui_chat.start, args=(conversation, True), icon=":material/school:",
                  help=t("chat.example_help"), disabled=not model)
actions[1].button(t("chat.regenerate"), on_click=conversation.regenerate, icon=":material/refresh:",
                  disabled=not model or not any(turn.role == "user" for turn in conversation.turns))
actions[2].button(t("chat.new"), on_click=ui_chat.start, args=(conversation,), icon=":material/add_comment:",
                  help=t("chat.new_help"), disabled=not conversation.turns)
ui_chat.conversations(actions[3], conversation)
ui_chat.export_buttons(actions[4], actions[5], settings, conversation.turns)
with st.expander(t("chat.import"), icon=":material/upload:"):
    st.file_uploader(t("chat.import_file"), type=["json"], key="chat.import", on_change=import_chat)
ui_chat.lessons(conversation, system or "", model)  # fluent is not correct; Ollama's real 404

# ------------------------------------------------------------------------------ history
if asked := st.chat_input(t("chat.input"), disabled=not model, accept_file=True, file_type=list(images.UPLOAD_TYPES)):
    ui_chat.ask(conversation, asked)  # text, and images for a vision model (`images` in the message)
ui_chat.save(conversation)  # the question, a settled answer, an import, the settings: never mid-answer
ui_persistence.notice("chat")
ui_chat.history(conversation)
# The answer is drawn where its history bubble will be. A container, not a chat message: the rerun's
# bubble then replaces it whole (the browser would keep a same-type block's old children until the run
# ends, showing the answer twice).
live_slot = st.empty()
ui_chat.compare_button(conversation, think_choices, think_levels)
ui_chat.context_warning(conversation, settings)  # old turns are dropped silently past num_ctx
if error := conversation.take_error():
    ui.show_error(error, key="chat.error")
    if isinstance(error, ModelNotFound):
        st.page_link("pages/models.py", label=t("chat.go_models"), icon=":material/inventory_2:")


# ------------------------------------------------------------------------------ answer
def answer() -> None:
    """Stream (or wait for) the answer to the last question; lib/chat.py keeps what arrived,
    however this run ends."""
    with live_slot.container(), st.chat_message("assistant"):
        if streaming:
            st.button(t("chat.stop"), key="chat.stop", icon=":material/stop_circle:")
        with contextlib.nullcontext() if streaming else st.spinner(t("chat.waiting")):
            live = conversation.answer(client, settings, stream=streaming)
        try:
            ui_chat.stream_answer(live)  # a thinking model's reasoning above the answer
        finally:
            conversation.finish(live)  # cut short by another page: what arrived is kept as stopped
            ui_chat.save(conversation)
    if not live.stopped:  # stopped: the run the Stop click started has settled and drawn it
        st.rerun()  # draw the answer in the history, with its numbers and its HTTP


if model and conversation.waiting_question():
    if option_problems:
        conversation.pending = False
        st.error(t("chat.fix_options"), icon=":material/error:")
    else:
        answer()
