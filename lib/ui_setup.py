"""The built-in server's background preparation as the student sees it: the sidebar badge says
"preparing" (instead of "not answering") and reruns the page by itself when that changes, and the
Server page says what is happening, how long it usually takes, and on failure the log's last lines
and what to install. The state comes from the launcher's status file (lib/setup_status.py)."""
from __future__ import annotations

import streamlit as st

from lib import setup_status
from lib.setup_status import SetupStatus

CHECK_EVERY_S = 5
# What the failed build needs, per system: (label key, command, code language)
BUILD_TOOLS = (
    ("linux", "sudo apt install build-essential cmake", "bash"),
    ("macos", "xcode-select --install\nbrew install cmake", "bash"),
    ("windows", "winget install Kitware.CMake", "powershell"),
)


def current(url: str) -> SetupStatus | None:
    """The preparation of the server at `url`, if the launcher is preparing (or failed to prepare) it."""
    status = setup_status.for_url(url)
    return status if status is not None and (status.preparing or status.failed) else None


def _minutes(status: SetupStatus) -> int:
    return int(status.elapsed_s() // 60)


def _badge_text(status: SetupStatus) -> None:
    from lib.ui import t
    if status.failed:
        st.markdown(f":red[:material/build: **{t('badge.setup_failed')}**]")
    else:
        st.markdown(f":orange[:material/hourglass_top: **{t('badge.preparing')}**]")
        st.caption(t(f"badge.preparing.{status.state}", minutes=_minutes(status)))


def badge(url: str, reachable: bool) -> bool:
    """Draw the preparing/failed badge for `url` if there is one (True), else draw nothing (False).
    While preparing, a fragment looks again every few seconds and reruns the whole app when the
    state changes (the server answers, or the build fails), so the page switches by itself."""
    if reachable:
        return False
    status = current(url)
    if status is None:
        return False
    if status.failed:
        _badge_text(status)
        return True
    st.fragment(run_every=CHECK_EVERY_S)(_watch)(url, status.state)
    return True


def _watch(url: str, seen: str) -> None:
    status = current(url)
    now = status.state if status is not None else ""
    if now != seen:
        from lib import ui
        ui.forget_server_lists()  # the status check is cached for a few seconds: ask the server now
        st.rerun()
    _badge_text(status)


def notice(url: str) -> bool:
    """The Server page's block: what is being prepared, or why it failed and what to do. True if drawn
    (the page then shows it instead of the "not answering" diagnosis)."""
    from lib.ui import t
    status = current(url)
    if status is None:
        return False
    if not status.failed:
        key = "server.setup.compiling" if status.step == "server" else f"server.setup.{status.state}"
        st.info(t(key, minutes=_minutes(status)), icon=":material/hourglass_top:")
        st.caption(t("server.setup.log", log=status.log))
        return True
    if status.command.startswith("pip"):
        st.error(t("server.setup.failed", command=status.command, code=status.code), icon=":material/build:")
    else:
        st.error(t("server.setup.server_failed", code=status.code if status.code is not None else "—"),
                 icon=":material/build:")
    st.caption(t("server.setup.log_tail", log=status.log))
    st.code("\n".join(status.tail) or "—", language=None, wrap_lines=True)
    if status.no_space:
        st.warning(t("server.setup.no_space"), icon=":material/storage:")
    elif status.command.startswith("pip"):
        st.markdown(t("server.setup.tools"))
        for system, tab in zip(BUILD_TOOLS, st.tabs([t(f"guide.os.{s}") for s, _, _ in BUILD_TOOLS])):
            with tab:
                st.caption(t(f"server.setup.tools.{system[0]}"))
                st.code(system[1], language=system[2])
    st.info(t("server.setup.then"), icon=":material/restart_alt:")
    return True
