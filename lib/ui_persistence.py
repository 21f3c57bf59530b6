"""Work that survives a reload, on the Streamlit side of lib/persistence.py: this browser's id in
the URL, the store, the chosen server, and saying when something could not be saved.

The id is the `s` query parameter (an unguessable token): a reload or a reconnection keeps the URL,
so it finds the browser's work again, and another browser, without it, sees none of it. It is
written back on every run (a page change may drop query parameters). It works like a key: a link
shared from the address bar would share the work, so the dashboard itself never shows one.
"""
from __future__ import annotations

import streamlit as st

from lib import persistence, ui
from lib.hosts import AllowList, HostError, check_host, default_url

BROWSER_PARAM = "s"
BROWSER_KEY = "app.browser"
SAVED_SERVER_KEY = "app.saved_server"  # the server last saved for this browser
PROBLEM_KEY = "app.store_problem"  # {area: (key, values)}: what could not be saved, until it can


def browser() -> str:
    """This browser's id: the one in the URL if it is one, else a new one, put in the URL."""
    if BROWSER_KEY not in st.session_state:
        given = st.query_params.get(BROWSER_PARAM)
        st.session_state[BROWSER_KEY] = given if persistence.valid_id(given) else persistence.new_id()
    if st.query_params.get(BROWSER_PARAM) != st.session_state[BROWSER_KEY]:
        st.query_params[BROWSER_PARAM] = st.session_state[BROWSER_KEY]
    return st.session_state[BROWSER_KEY]


def store() -> persistence.Store:
    return persistence.Store(persistence.data_dir() / persistence.FILE_NAME)


def attempt(area: str, action, *args, otherwise=None):
    """`action(*args)` on the store, or `otherwise` when it failed: the failure is kept for `notice`
    to say, and the page goes on (its work then lasts as long as the tab). `area` names what a
    refused save was for ("chat", "lab", "server"); reads are "read"."""
    problems = st.session_state.setdefault(PROBLEM_KEY, {})
    try:
        result = action(*args)
    except persistence.StoreUnreadable as problem:
        problems["store"] = (problem.key, problem.values)
        return otherwise
    except persistence.StoreFull as problem:
        problems[area] = (problem.key, problem.values)
        return otherwise
    problems.pop("store", None)
    problems.pop(area, None)
    return result


def notice(area: str) -> None:
    """What could not be saved (the file, or this browser's bound), said on every run until it can."""
    problems = st.session_state.get(PROBLEM_KEY) or {}
    for where in ("store", area):
        if where in problems:
            key, values = problems[where]
            st.warning(ui.t_escaped(key, **values), icon=":material/save:")


# ---------------------------------------------------------------------------- the server
def start() -> None:
    """First thing of every run (app.py): the browser's id in the URL, and on a session's first
    run (a reload) the server this browser chose, if the allow-list still lets it."""
    browser()
    if SAVED_SERVER_KEY in st.session_state:
        return
    if saved := attempt("read", store().server, browser()):
        try:
            st.session_state[ui.URL_KEY] = check_host(saved, AllowList.from_env())
        except HostError:
            pass  # no longer allowed here: the default, as for a new browser
    st.session_state[SAVED_SERVER_KEY] = st.session_state.setdefault(ui.URL_KEY, default_url())


def remember_server() -> None:
    """After the sidebar: a server chosen there is this browser's from now on."""
    url = ui.client().base_url
    if st.session_state.get(SAVED_SERVER_KEY) != url:
        st.session_state[SAVED_SERVER_KEY] = url
        attempt("server", store().save_server, browser(), url)
