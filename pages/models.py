"""2. Model library: the course catalog, installed models, details, pull with progress, delete, copy, create."""
import streamlit as st

from lib import library, models, ui, ui_models
from lib.client import OllamaError
from lib.pull import PullFollower

ui.ensure_app_frame()
t = ui.t
ui.page_title("models")
client = ui.client()
writable = not models.read_only()
if not writable:
    st.info(t("models.read_only"), icon=":material/lock:")

# the model to pull; the pull a run follows now; the last finished pull, shown until the next one
PULL_KEY, LIVE_KEY, LAST_KEY = "models.pull_request", "models.pull_live", "models.pull_last"


def request_pull(name: str) -> None:
    try:
        st.session_state[PULL_KEY] = models.check_name(name)
        st.session_state.pop(LAST_KEY, None)
    except models.NameRefused as refused:
        ui_models.refuse(refused)


def cancel_pull() -> None:
    name = st.session_state.pop(PULL_KEY, None)
    if live := st.session_state.pop(LIVE_KEY, None):
        live.cancel()  # now: the run drawing it may still be waiting for the server's next line
    ui.flash("warning", ui.t_escaped("models.pull.cancelled", model=name), ":material/cancel:")


def run_pull(name: str) -> None:
    """Draw the pull as it goes. Cancel closes its stream; any other rerun (a click elsewhere,
    another page) interrupts the drawing, which closes it too, and the next visit resumes it."""
    if older := st.session_state.get(LIVE_KEY):
        older.cancel()  # Streamlit 1.67 starts this run before the one that followed it has stopped
    cancel_area = st.empty()
    cancel_area.button(t("models.pull.cancel"), key="models.cancel", on_click=cancel_pull,
                       icon=":material/cancel:")
    area = st.empty()
    with PullFollower(client, name) as pull:
        st.session_state[LIVE_KEY] = pull
        for progress in pull:
            ui_models.pull_progress(progress, area)
    if not pull.finished:  # cancelled: the run of the Cancel click says so
        return
    if st.session_state.get(LIVE_KEY) is pull:
        del st.session_state[LIVE_KEY]
    st.session_state.pop(PULL_KEY, None)
    st.session_state[LAST_KEY] = pull
    if pull.succeeded:
        ui.forget_server_lists()
    st.rerun()  # the lists above with the new model, and the outcome below


@st.dialog(t("models.delete.title"))
def confirm_delete(name: str) -> None:
    st.warning(ui.t_escaped("models.delete.confirm", model=name), icon=":material/warning:")
    yes, no = st.columns(2)
    if (yes.button(t("models.delete.yes"), key="models.delete.yes", type="primary",
                   on_click=ui_models.delete, args=(client, name))
            or no.button(t("models.delete.no"), key="models.delete.no")):
        st.rerun()  # closes the dialog (a click inside it reruns only the dialog)


# ------------------------------------------------------------------------ installed models
st.header(t("models.installed"))
try:
    tags, tags_call = ui.installed_tags()
except OllamaError as error:
    ui.show_error(error, key="models.tags")
    tags, tags_call = None, None
rows = models.installed_models(tags) if tags else []
names = [r.name for r in rows]
if tags is not None and not rows:
    st.caption(t("models.installed_none"))
if rows:
    ui_models.installed_table(rows)
if tags_call is not None:
    ui.show_http(tags_call, key="models.tags.http")

# ------------------------------------------------------------------------ details
if rows:
    st.subheader(t("models.details"))
    if created := library.installed_name(st.session_state.pop(ui_models.CHOOSE_NEXT, ""), names):
        st.session_state["models.chosen"] = created  # the model just created
    chosen = st.selectbox(t("models.choose"), names, key="models.chosen")
    digest = library.digests(tags).get(chosen, "")
    try:  # asked once per model version for every session: the digest is in the cache key
        show, show_call = ui.model_show(chosen, digest)
    except OllamaError as error:  # e.g. deleted by someone else meanwhile
        ui.show_error(error, key="models.show")
        show = None
    if show is not None:
        ui_models.details(models.model_details(show), show, rows[names.index(chosen)], digest)
        ui.show_http(show_call, key="models.show.http")
    if writable:
        left, right = st.columns(2)
        if left.button(t("models.delete"), key="models.delete", icon=":material/delete:"):
            confirm_delete(chosen)
        right.text_input(t("models.copy_to"), key="models.copy_to", placeholder=f"{chosen.split(':')[0]}-clase")
        # the callback reads the choice when clicked, not when drawn: it may change in between
        right.button(t("models.copy"), key="models.copy", icon=":material/content_copy:",
                     on_click=lambda: ui_models.copy(client, st.session_state["models.chosen"],
                                                     st.session_state.get("models.copy_to", "")))

# ------------------------------------------------------------------------ pull
builtin = ui.server_status().builtin  # the built-in server: no internet, two models it can install
if writable:
    st.header(t("models.pull"))
    ui_models.course_layers()
    if builtin is not None:
        ui_models.builtin_notice(builtin)
    name_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    name_col.text_input(t("models.pull.name"), key="models.pull_name", placeholder="gemma3:1b",
                        help=t("models.pull.name_help"))
    button_col.button(t("models.pull.start"), key="models.pull", icon=":material/download:",
                      on_click=lambda: request_pull(st.session_state.get("models.pull_name", "")))
    ui_models.name_read_as(st.session_state.get("models.pull_name", ""))
    if pending := st.session_state.get(PULL_KEY):
        st.markdown(t("models.pull.pulling", model=pending))
        run_pull(pending)
    elif last := st.session_state.get(LAST_KEY):
        ui_models.pull_progress(last.progress, st.empty())
        ui_models.pull_outcome(last, builtin)
    if rows:  # a model is made FROM an installed one
        ui_models.create_form(client, names)

# ------------------------------------------------------------------------ catalog
st.header(t("models.catalog"))
st.caption(t("models.catalog.summary"))
ui_models.catalog_section(client.base_url, names, writable, request_pull)
