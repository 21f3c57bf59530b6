"""Ollama Course Companion: navigation over pages/, the sidebar (server, language), nothing else."""
import streamlit as st

from lib import ui, ui_persistence

st.set_page_config(page_title="Ollama Course Companion", page_icon=":material/school:",
                   layout="wide")

page = st.navigation([
    st.Page("pages/server.py", title=ui.t("nav.server"), icon=":material/dns:"),
    st.Page("pages/models.py", title=ui.t("nav.models"), icon=":material/inventory_2:"),
    st.Page("pages/chat.py", title=ui.t("nav.chat"), icon=":material/chat:"),
    st.Page("pages/vision.py", title=ui.t("nav.vision"), icon=":material/image:"),
    st.Page("pages/lab.py", title=ui.t("nav.lab"), icon=":material/science:"),
    st.Page("pages/today.py", title=ui.t("nav.today"), icon=":material/new_releases:"),
])
ui_persistence.start()  # this browser's id in the URL (`?s=`); after a reload, the server it chose
ui.sidebar()
ui_persistence.remember_server()
ui.run_in_frame(page)
