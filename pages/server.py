"""1. The server: is it there, what is loaded, how to install and start it, what went wrong."""
import streamlit as st

from lib import server_checks, server_guide, server_log, ui, ui_setup
from lib.client import OllamaError
from lib.hosts import AllowList
from lib.safe_text import plain

ui.ensure_app_frame()
t = ui.t
ui.page_title("server")


def show_check(check: server_checks.Check) -> None:
    (st.success if check.passed else st.warning)(ui.t_escaped(check.key, **check.values))


# ----------------------------------------------------------------------------- status
def status_section() -> None:
    client = ui.client()
    status = ui.server_status()  # the sidebar's check: not asked twice in one run
    st.markdown(f"{t('server.url')}: `{status.url}`")
    cols = st.columns(3)
    cols[0].metric(t("server.reachable"), t("yes") if status.reachable else t("no"))
    cols[1].metric(t("server.version"), t("server.builtin_short") if status.builtin else plain(status.version or "—"))
    cols[2].metric(t("server.latency"), f"{status.latency_ms:.0f} ms" if status.latency_ms else "—")
    if not status.reachable:
        if not ui_setup.notice(status.url):  # the built-in server being prepared: not an error yet
            ui.show_error(status.error, key="server.status")
        st.info(t("server.see_guide"), icon=":material/arrow_downward:")
        return
    if status.builtin:
        st.info(t("server.builtin_note"), icon=":material/memory:")
    ui.show_http(status.exchange, key="server.version")
    loaded_section(client)


def unload(model: str) -> None:
    """Button callback: runs before the rerun, so the list below is already up to date."""
    try:
        ui.client().unload(model)
        st.toast(ui.t_escaped("server.unloaded", model=model), icon=":material/eject:")
    except OllamaError as error:
        ui.flash_error(error, key="server.unload")


def loaded_section(client) -> None:
    st.subheader(t("server.loaded"))
    try:
        rows = server_checks.loaded_models(client.ps(), lang=ui.lang())
    except OllamaError as error:
        ui.show_error(error, key="server.ps")
        return
    ps_exchange = client.last
    if not rows:
        st.caption(t("server.loaded_none"))
    widths = [3, 2, 2, 2, 3, 2]
    if rows:  # the columns `ollama ps` prints, named as it names them
        for column, name in zip(st.columns(widths), server_checks.PS_COLUMNS):
            column.caption(f"`{name}`")
    for row in rows:
        name, size, proc, ctx, until, action = st.columns(widths, vertical_alignment="center")
        name.markdown(f"**{plain(row.name)}**")
        size.write(row.size)
        proc.write(row.processor)
        ctx.write(t("server.ctx", tokens=row.context_length) if row.context_length else "—")
        until.write(ui.age(row.until, future=True))
        action.button(t("server.unload"), key=f"unload.{row.name}", icon=":material/eject:",
                      help=ui.t_escaped("server.unload_help", model=row.name), on_click=unload, args=(row.name,))
    if rows:
        st.caption(t("server.ps_help"))
    ui.show_flashes()  # a click in this fragment reruns only the fragment, not the page title
    ui.show_http(ps_exchange, key="server.ps")


auto = st.toggle(t("server.auto_refresh"), key="server.auto_refresh", help=t("server.auto_refresh_help"))
st.fragment(run_every=5 if auto else None)(status_section)()

# ----------------------------------------------------------------------------- guide
CHECKS = {"cli": server_checks.check_cli, "serve": lambda: server_checks.check_server(ui.client()),
          "models": lambda: server_checks.check_models(ui.client())}


def share_form(system: str) -> None:
    with st.form(f"share.{system}", border=False):
        left, right = st.columns(2)
        address = left.text_input(t("guide.share.address"), value=ui.client().base_url,
                                  help=t("guide.share.address_help"))
        origin = right.text_input(t("guide.share.origin"), placeholder="http://aula.example:8080",
                                  help=t("guide.share.origin_help"))
        if st.form_submit_button(t("guide.check")):
            show_check(server_checks.check_shared(address, origin, AllowList.from_env()))


st.header(t("guide.title"))
st.caption(t("guide.summary"))
for system, tab in zip(server_guide.SYSTEMS, st.tabs([t(f"guide.os.{s}") for s in server_guide.SYSTEMS])):
    with tab:
        for number, step in enumerate(server_guide.GUIDE[system], 1):
            st.markdown(f"**{number}. {t(f'guide.{step.name}')}**  \n{' '.join(t(key) for key in step.text)}")
            if step.name == "share":
                st.warning(t("guide.security", **server_guide.ALLOWED_ORIGINS), icon=":material/shield:")
            for block in step.blocks:
                if block.note:
                    st.caption(t(block.note))
                st.code(block.code, language=block.language)
            if step.check == "shared":
                share_form(system)
            elif step.check and st.button(t("guide.check"), key=f"check.{step.check}.{system}"):
                show_check(CHECKS[step.check]())

st.subheader(t("env.title"))
st.caption(t("env.intro"))
st.markdown(server_guide.env_table(t))
st.markdown(t("env.memory"))
st.info(t("env.pin", **server_guide.PIN), icon=":material/push_pin:")

# ----------------------------------------------------------------------------- background
st.header(t("background.title"))
with st.expander(t("background.tools.title"), icon=":material/compare:"):
    st.markdown(t("background.tools.body"))
with st.expander(t("background.local_vs_api.title"), icon=":material/balance:"):
    st.markdown(t("background.local_vs_api.body"))
with st.expander(t("background.claims.title"), icon=":material/fact_check:"):
    st.markdown(t("background.claims.body"))
with st.expander(t("background.log.title"), icon=":material/receipt_long:"):
    st.markdown(t("background.log.body"))
    examples = {t(f"background.log.example.{name}"): name for name in server_log.EXAMPLES}
    example = examples[st.radio(t("background.log.example"), list(examples), horizontal=True)]
    log = st.text_area(t("background.log.input"), value=server_log.EXAMPLES[example], height=200,
                       key=f"server.log.{example}")
    notes = server_log.annotate(log)
    if not notes:
        st.caption(t("background.log.nothing"))
    for line, key, values in notes:
        st.code(line, language=None, wrap_lines=True)
        st.caption(ui.t_escaped(key, **values))
