"""6. Today's API, beyond the course (Ollama v0.33): tool calling and embeddings, for models that can."""
import streamlit as st

from lib import embeddings, ui, ui_today
from lib.client import OllamaError

ui.ensure_app_frame()
t = ui.t
ui.page_title("today")

try:
    scan = ui_today.scan_models(refresh=st.button(t("today.refresh"), icon=":material/refresh:", key="today.refresh"))
except OllamaError as error:
    ui.show_error(error, key="today.models")
    scan = None
builtin = ui.server_status().builtin is not None

# ------------------------------------------------------------------------------ tool calling
st.header(t("today.tools.header"))
st.markdown(t("today.tools.intro"))
ui_today.definitions()
if scan is not None and not scan.tools:
    ui_today.no_capable_model("tools", scan, builtin)
elif scan is not None:
    model = ui_today.model_choice("tools", scan.tools)
    question = st.text_input(t("today.tools.question"),
                             key=ui_today.default_text("question", "today.tools.question.default"))
    if st.button(t("today.tools.ask"), type="primary", icon=":material/build:", key="today.tools.ask",
                 disabled=not question.strip()):
        ui_today.ask(model, question.strip())
if run := st.session_state.get(ui_today.TOOLS_RESULT):
    ui_today.show_tool_run(run)

# ------------------------------------------------------------------------------ embeddings
st.header(t("today.embed.header"))
st.markdown(t("today.embed.intro"))
model = None
if scan is not None and not scan.embedding:
    ui_today.no_capable_model("embedding", scan, builtin)
elif scan is not None:
    model = ui_today.model_choice("embed", scan.embedding)
    text = st.text_area(t("today.embed.sentences"),
                        key=ui_today.default_text("sentences", "today.embed.sentences.default"),
                        height=150, max_chars=embeddings.MAX_CHARS,
                        help=t("today.embed.sentences_help", limit=embeddings.MAX_SENTENCES))
    left, right = st.columns(2)
    truncate = left.toggle("truncate", key=ui.setting("today", "truncate", True), help=t("today.embed.truncate_help"))
    dimensions = right.number_input("dimensions", min_value=1, max_value=8192, step=1,
                                    key=ui.setting("today", "dimensions"), placeholder=t("today.embed.dimensions_all"),
                                    help=t("today.embed.dimensions_help"))
    if st.button(t("today.embed.button"), type="primary", icon=":material/scatter_plot:", key="today.embed.go"):
        ui_today.embed(model, text, truncate, dimensions, scan.digests.get(model, ""))
if result := st.session_state.get(ui_today.EMBED_RESULT):
    ui_today.show_embedded(result)
ui_today.old_endpoint(model or "all-minilm", t("today.embed.old.sentence"))
