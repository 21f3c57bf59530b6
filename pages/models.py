"""2. Model library: the course catalog, installed models, details, pull with progress, delete, copy."""
import time

import streamlit as st

from lib import catalog, models, ui
from lib.client import OllamaError
from lib.formatting import human_bytes
from lib.pull import PullProgress

ui.ensure_app_frame()
t = ui.t
ui.page_title("models")
client = ui.client()
writable = not models.read_only()
if not writable:
    st.info(t("models.read_only"), icon=":material/lock:")

PULL_KEY, CANCEL_KEY, CONFIRM_KEY, DONE_KEY = ("models.pull_request", "models.pull_cancelled",
                                               "models.confirm_delete", "models.done")
UI_REFRESH_S = 0.25  # redraw the bars at most this often; lines come every ~60 ms


def request_pull(name: str) -> None:
    try:
        st.session_state[PULL_KEY] = models.check_name(name)
        st.session_state.pop(CANCEL_KEY, None)
    except models.NameRefused as refused:
        st.session_state["models.name_error"] = refused


def cancel_pull() -> None:
    st.session_state[CANCEL_KEY] = st.session_state.pop(PULL_KEY, None)


def draw_progress(progress: PullProgress, area) -> None:
    with area.container():
        for layer in progress.layers.values():
            st.progress(layer.fraction, text=f"pulling {layer.short}… {layer.fraction:.0%} · "
                                             f"{human_bytes(layer.total)}")
        speed, left = progress.speed, progress.seconds_left
        st.progress(progress.fraction, text=t(
            "models.pull.overall", percent=f"{progress.fraction:.0%}",
            done=human_bytes(progress.completed), total=human_bytes(progress.total),
            speed=f"{human_bytes(speed)}/s" if speed else "—",
            left=f"{left:.0f} s" if left is not None else "—"))
        st.caption(" → ".join(s for s in progress.statuses if not s.startswith("pulling ")
                              or s == "pulling manifest"))


def run_pull(name: str) -> None:
    """Stream the pull into the bars; Cancel reruns the page, which closes the stream."""
    cancel_area = st.empty()
    cancel_area.button(t("models.pull.cancel"), key="models.cancel", on_click=cancel_pull,
                       icon=":material/cancel:")
    progress, area, stream = PullProgress(), st.empty(), None
    drawn, finished = 0.0, False
    try:
        models.ensure_writable()
        stream = client.pull(name)
        for chunk in stream:
            progress.update(chunk)
            if time.monotonic() - drawn > UI_REFRESH_S:
                draw_progress(progress, area)
                drawn = time.monotonic()
        draw_progress(progress, area)
        finished = True
        if progress.done:
            st.success(t("models.pull.success", model=name), icon=":material/check_circle:")
            ui.forget_server_lists()
    except (OllamaError, models.ReadOnlyMode) as error:
        finished = True
        ui.show_error(error, key="models.pull")
    finally:
        if stream is not None:
            stream.close()  # also when a rerun interrupts the loop: the server stops sending
        if finished:  # any other rerun (a click elsewhere, another page) resumes it later
            st.session_state.pop(PULL_KEY, None)
            cancel_area.empty()
    if stream is not None:
        ui.show_http(stream.exchange, key="models.pull.http")


# Button callbacks read the chosen model from session state, not from arguments bound when the
# button was drawn: the selection may have changed in the same interaction.
def delete() -> None:
    name = st.session_state.pop(CONFIRM_KEY, None)
    try:
        models.ensure_writable()
        client.delete(name)
        st.session_state[DONE_KEY] = t("models.deleted", model=name)
    except (OllamaError, models.ReadOnlyMode) as error:
        st.session_state["models.action_error"] = error
    ui.forget_server_lists()


def copy() -> None:
    source = st.session_state.get("models.chosen")
    try:
        models.ensure_writable()
        destination = models.check_name(st.session_state.get("models.copy_to", ""))
        client.copy(source, destination)
        st.session_state[DONE_KEY] = t("models.copied", source=source, destination=destination)
    except models.NameRefused as refused:
        st.session_state["models.name_error"] = refused
    except (OllamaError, models.ReadOnlyMode) as error:
        st.session_state["models.action_error"] = error
    ui.forget_server_lists()


if refused := st.session_state.pop("models.name_error", None):
    st.error(t(refused.key, name=refused.name), icon=":material/error:")
if error := st.session_state.pop("models.action_error", None):
    ui.show_error(error, key="models.action")
if done := st.session_state.pop(DONE_KEY, None):
    st.success(done, icon=":material/check_circle:")
if cancelled := st.session_state.pop(CANCEL_KEY, None):
    st.warning(t("models.pull.cancelled", model=cancelled), icon=":material/cancel:")

# ------------------------------------------------------------------------ installed models
st.header(t("models.installed"))
try:
    tags, tags_call = ui.installed_tags()
except OllamaError as error:
    ui.show_error(error, key="models.tags")
    tags, tags_call = None, None
rows = models.installed_models(tags) if tags else []
if tags is not None and not rows:
    st.caption(t("models.installed_none"))
if rows:
    st.dataframe(
        [{t("models.col.name"): r.name, "ID": r.id, t("models.col.size"): r.size_gb,
          t("models.col.modified"): ui.age(r.modified_ago), t("models.col.modified_at"): r.modified,
          t("models.col.family"): r.family, t("models.col.parameters"): r.parameter_size,
          t("models.col.quantization"): r.quantization} for r in rows],
        hide_index=True, width="stretch",
        column_config={t("models.col.size"): st.column_config.NumberColumn(format="%.1f GB")})
if tags_call is not None:
    ui.show_http(tags_call, key="models.tags.http")

# ------------------------------------------------------------------------ details
if rows:
    st.subheader(t("models.details"))
    chosen = st.selectbox(t("models.choose"), [r.name for r in rows], key="models.chosen")
    try:
        details = models.model_details(client.show(chosen))
        show_call = client.last
    except OllamaError as error:  # e.g. deleted by someone else meanwhile
        ui.show_error(error, key="models.show")
        details = None
    if details is not None:
        if details.capabilities is None:
            st.caption(t("models.capabilities_unknown"))
        else:
            st.markdown(" ".join(
                f":blue-badge[{t('models.capability.' + c) if c in models.CAPABILITIES else c}]"
                for c in details.capabilities))
        cols = st.columns(4)
        cols[0].metric(t("models.context_length"), f"{details.context_length:,}" if details.context_length else "—")
        cols[1].metric(t("models.col.family"), details.family or details.architecture or "—")
        cols[2].metric(t("models.col.parameters"), details.parameter_size or "—")
        cols[3].metric(t("models.col.quantization"), details.quantization or "—")
        for label, text, language in (("models.parameters", details.parameters, None),
                                      ("models.template", details.template, "go"),
                                      ("models.system", details.system, None),
                                      ("models.license", details.license, None),
                                      ("models.modelfile", details.modelfile, "docker")):
            if text:
                with st.expander(t(label)):
                    st.code(text, language=language, wrap_lines=True)
        ui.show_http(show_call, key="models.show.http")
    if writable:
        left, right = st.columns(2)
        with left:
            if st.session_state.get(CONFIRM_KEY) == chosen:
                st.warning(t("models.delete.confirm", model=chosen), icon=":material/warning:")
                yes, no = st.columns(2)
                yes.button(t("models.delete.yes"), key="models.delete.yes", type="primary",
                           on_click=delete)
                no.button(t("models.delete.no"), key="models.delete.no",
                          on_click=lambda: st.session_state.pop(CONFIRM_KEY, None))
            else:
                st.button(t("models.delete"), key="models.delete", icon=":material/delete:",
                          on_click=lambda: st.session_state.update({CONFIRM_KEY: st.session_state["models.chosen"]}))
        with right:
            st.text_input(t("models.copy_to"), key="models.copy_to", placeholder=f"{chosen.split(':')[0]}-clase")
            st.button(t("models.copy"), key="models.copy", icon=":material/content_copy:",
                      on_click=copy)

# ------------------------------------------------------------------------ pull
if writable:
    st.header(t("models.pull"))
    name_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    name_col.text_input(t("models.pull.name"), key="models.pull_name", placeholder="gemma3:1b",
                        help=t("models.pull.name_help"))
    button_col.button(t("models.pull.start"), key="models.pull", icon=":material/download:",
                      on_click=lambda: request_pull(st.session_state.get("models.pull_name", "")))
    if pending := st.session_state.get(PULL_KEY):
        st.markdown(t("models.pull.pulling", model=pending))
        run_pull(pending)

# ------------------------------------------------------------------------ catalog
st.header(t("models.catalog"))
st.caption(t("models.catalog.summary"))
memory = catalog.machine_memory_gb() if catalog.is_local(client.base_url) else None
filters = st.columns(3)
purpose = filters[0].selectbox(t("models.purpose"), [None, *catalog.PURPOSES], key="models.purpose",
                               format_func=lambda p: t(f"models.purpose.{p or 'any'}"))
fits = filters[1].number_input(t("models.fits_in"), min_value=1, max_value=1024, step=1,
                               value=int(memory) if memory else 8, key="models.fits_in",
                               help=t("models.fits_in_help_local" if memory else "models.fits_in_help"))
course_only = filters[2].toggle(t("models.course_only"), key="models.course_only")
names = [r.name for r in rows]
shown = catalog.select(catalog.load_catalog(), purpose, fits, course_only)
st.dataframe(
    [{t("models.col.name"): m.name, t("models.col.tag"): m.tag, t("models.col.parameters"): m.parameters,
      t("models.col.size"): m.size_gb, t("models.col.memory"): m.memory_gb,
      t("models.purpose"): ", ".join(t(f"models.purpose.{p}") for p in m.purposes),
      t("models.col.installed"): catalog.installed(m.tag, names),
      t("models.col.what"): t(f"catalog.{m.id}"), t("models.col.command"): m.run_command}
     for m in shown],
    hide_index=True, width="stretch",
    column_config={t("models.col.size"): st.column_config.NumberColumn(format="%.1f GB"),
                   t("models.col.memory"): st.column_config.NumberColumn(format="%d GB")})
st.caption(t("models.catalog.count", shown=len(shown), total=len(catalog.load_catalog())))
if writable and shown:
    pick_col, go_col = st.columns([3, 1], vertical_alignment="bottom")
    pick_col.selectbox(t("models.catalog.pick"), [m.tag for m in shown], key="models.catalog_pick")
    go_col.button(t("models.pull.start"), key="models.catalog_pull", icon=":material/download:",
                  on_click=lambda: request_pull(st.session_state["models.catalog_pick"]))
