"""Streamlit pieces every page shares: language, the per-session client, the sidebar, errors and
"Show the HTTP". The only lib module besides lib/ui_* that imports Streamlit.
"""
from __future__ import annotations

import pathlib
import re
import runpy
import threading
import time

import streamlit as st

from lib import formatting, http_view, i18n, terminal, ui_setup
from lib import options as options_reference
from lib.client import Exchange, OllamaClient, OllamaError, ServerStatus
from lib.diagnosis import diagnose
from lib.formatting import number
from lib.hosts import AllowList, HostError, check_host, default_url
from lib.ollama_facts import REPL_COMMANDS
from lib.safe_text import model_markdown

APP_PATH = pathlib.Path(__file__).resolve().parent.parent / "app.py"
LANG_KEY = "app.lang"
URL_KEY = "app.server_url"
CLIENT_KEY = "app.client"
FLASH_KEY = "app.flash"
STATUS_MAX_AGE_S = 3.0  # the status is checked at most this often per server, for everyone

LANGUAGE_NAMES = {"es": "Español", "en": "English"}


# ------------------------------------------------------------------------------ the frame
_frame = threading.local()  # script runs happen on their own threads: the mark is per run


def run_in_frame(page: st.Page) -> None:
    """app.py runs the chosen page through this, which marks the run as one app.py drives."""
    _frame.depth = getattr(_frame, "depth", 0) + 1
    try:
        page.run()
    finally:
        _frame.depth -= 1


def ensure_app_frame() -> None:
    """Every page calls this first: a deep link must get app.py's frame, on a fresh server too.

    With page files in `pages/`, Streamlit routes a link opened before any session has run app.py
    by its legacy page discovery: the page runs alone, without app.py. A page run that app.py did
    not mark hands over: it runs app.py (whose st.navigation ends the legacy routing and runs this
    page inside the frame), then stops.
    """
    if not getattr(_frame, "depth", 0):
        runpy.run_path(str(APP_PATH))
        st.stop()


def lang() -> str:
    if LANG_KEY not in st.session_state:
        st.session_state[LANG_KEY] = i18n.pick_language(st.query_params.get("lang"),
                                                        st.context.locale)
    return st.session_state[LANG_KEY]


def t(key: str, **values) -> str:
    return i18n.translate(lang(), key, **values)


def t_escaped(key: str, **values) -> str:
    """`t` for Markdown (st.markdown, st.error, st.caption, st.metric): values that came from a
    server, a model or a student are shown literally, never as formatting or an image to load."""
    return i18n.translate_markdown(lang(), key, **values)


def labels(prefix: str):
    """A format_func for options: `prefix + option` translated in this session's language, bound
    now, so it also works outside the script run (AppTest calls format_func from its own thread)."""
    language = lang()
    return lambda option: i18n.translate(language, f"{prefix}{option}")


# ---------------------------------------------------------------------------- the server
def client() -> OllamaClient:
    """This session's client (one requests.Session per user session), for the chosen server."""
    url = st.session_state.setdefault(URL_KEY, default_url())
    current = st.session_state.get(CLIENT_KEY)
    if current is None or current.base_url != url:
        current = st.session_state[CLIENT_KEY] = OllamaClient(url)
    return current


@st.cache_resource(ttl=STATUS_MAX_AGE_S, max_entries=64, show_spinner=False)
def _status(url: str) -> ServerStatus:
    """One check per server shared by every session: a class of 30 tabs asks once, not 30 times."""
    return OllamaClient(url).status()


def server_status() -> ServerStatus:
    """The server's status, at most STATUS_MAX_AGE_S seconds old."""
    return _status(client().base_url)


@st.cache_data(ttl=10, show_spinner=False)
def _tags(url: str) -> tuple[dict, Exchange]:
    """`/api/tags`, shared by every session for a few seconds: a class of 30 students is 30 tabs."""
    lister = OllamaClient(url)
    return lister.tags(), lister.last


def installed_tags() -> tuple[dict, Exchange]:
    """The server's installed models and the call that listed them (for "Show the HTTP")."""
    return _tags(client().base_url)


@st.cache_data(max_entries=2048, show_spinner=False)
def _show(url: str, model: str, digest: str) -> tuple[dict, Exchange]:
    """`/api/show` of one model version: the same digest always shows the same facts, so every
    session shares it; a pull that changes the model changes the digest, hence the key."""
    asker = OllamaClient(url)
    return asker.show(model), asker.last


def model_show(model: str, digest: str) -> tuple[dict, Exchange]:
    """`/api/show` for an installed model (`digest` from /api/tags) and the call that asked it.
    Errors (deleted meanwhile, server down) are raised and never cached."""
    return _show(client().base_url, model, digest or "")


def installed_listing(refresh: bool = False) -> tuple[str, str, dict]:
    """The installed models as a cache key: (server, one line per model with its digest, /api/tags).
    A scan of the models cached on it is redone only when one is pulled, deleted or replaced: one
    string hashes far faster than 300 entries. `refresh` lists the models again."""
    if refresh:
        forget_server_lists()
    tags, _ = installed_tags()
    models = tags.get("models") or []
    return client().base_url, "\n".join(f"{m.get('name') or m.get('model')} {m.get('digest')}" for m in models), tags


def forget_server_lists() -> None:
    """After a pull, delete or copy (and between tests): the next listing asks the server again."""
    _tags.clear()
    _status.clear()


def _server_input() -> None:
    """The server box. Keyed by the URL in use, so after a change it starts again from the new
    URL; a value that differs from the URL in use is what the student typed, checked every run."""
    current = client().base_url
    typed = st.text_input(t("sidebar.server"), value=current, key=f"app.server_input.{current}",
                          help=t("sidebar.server_help"))
    if typed.strip() == current:
        return
    try:
        st.session_state[URL_KEY] = check_host(typed, AllowList.from_env())
        st.rerun()
    except HostError as error:
        show_error(error, key="sidebar")


def _apply_language() -> None:
    chosen = st.session_state.get("app.lang_input")
    if chosen in i18n.LANGUAGES:
        st.session_state[LANG_KEY] = chosen


def status_badge(status: ServerStatus) -> None:
    """Coloured text rather than st.badge: a badge does not wrap, and the built-in label is long."""
    if not status.reachable:
        st.markdown(f":red[:material/error: **{t('badge.down')}**]")
    elif status.builtin is not None:
        st.markdown(f":blue[:material/memory: **{t('badge.builtin', latency=f'{status.latency_ms:.0f}')}**]")
    else:
        st.markdown(f":green[:material/check_circle: **"
                    f"{t_escaped('badge.up', version=status.version, latency=f'{status.latency_ms:.0f}')}**]")


def sidebar() -> None:
    """Server in use (changeable for the session), its live badge, and the language switch."""
    keep_settings()
    current = lang()
    st.query_params["lang"] = current  # kept in the URL so a shared link opens in this language
    with st.sidebar:
        st.segmented_control(t("sidebar.language"), options=list(i18n.LANGUAGES),
                             format_func=LANGUAGE_NAMES.get, default=current,
                             key="app.lang_input", on_change=_apply_language)
        _server_input()
        st.caption(t("sidebar.server_in_use", url=client().base_url))
        status = server_status()
        if not ui_setup.badge(status.url, status.reachable):  # the built-in server being prepared
            status_badge(status)


def stream_model_text(texts, every_s: float = 0.05) -> str:
    """A model's text drawn as it arrives, each time whole through `model_markdown`: st.write_stream
    would draw the raw pieces, and an image split across two pieces (`![x](` + `http://...)`) would
    be fetched before the whole answer is made safe. Redrawn at most every `every_s` seconds."""
    area, text, drawn_at = st.empty(), "", 0.0
    for piece in texts:
        text += piece
        if time.monotonic() - drawn_at >= every_s:
            area.markdown(model_markdown(text))
            drawn_at = time.monotonic()
    area.markdown(model_markdown(text))
    return text


# ---------------------------------------------------------------------------- messages
def flash(kind: str, text: str, icon: str | None = None) -> None:
    """A message for the next run to show (a callback's result): `kind` is success, info,
    warning or error. Shown under the page title by `show_flashes`."""
    st.session_state.setdefault(FLASH_KEY, []).append((kind, text, icon))


def flash_error(error: Exception, key: str) -> None:
    """An error for the next run to explain with `show_error`."""
    st.session_state.setdefault(FLASH_KEY, []).append(("exception", error, key))


def show_flashes() -> None:
    for kind, payload, extra in st.session_state.pop(FLASH_KEY, []):
        if kind == "exception":
            show_error(payload, key=extra)
        else:
            getattr(st, kind)(payload, icon=extra)


# ---------------------------------------------------------------------------- errors
def show_error(error: Exception, key: str) -> None:
    """What happened and what to do, in the user's language; never a traceback."""
    diagnosis = diagnose(error, client().base_url)
    st.error(f"**{t_escaped(diagnosis.title_key, **diagnosis.values)}**\n\n"
             f"{t_escaped(diagnosis.advice_key, **diagnosis.values)}", icon=":material/error:")
    if diagnosis.commands:
        st.code("\n".join(diagnosis.commands), language="bash")
    with st.expander(t("error.details")):
        st.text(diagnosis.detail)
    exchange = getattr(error, "exchange", None)
    if isinstance(error, OllamaError) and exchange is not None:
        show_http(exchange, key=f"{key}.error", lazy=False)  # errors are few, and may be flashed


# ----------------------------------------------------------------------- show the HTTP
def show_http(exchange: Exchange, key: str, expanded: bool = False, lazy: bool = True) -> None:
    """The call as HTTP: request JSON, curl, the `ollama` command, Python (`requests` and the `ollama`
    client), raw response, final fields explained.

    Built only while open (a keyed expander reruns when toggled), and downloads are made on click:
    a chat of 200 answers sends 200 closed labels, not 200 copies of the whole history. `lazy=False`
    builds it at once: for a message that the rerun made by opening it would no longer show."""
    status = exchange.status if exchange.status is not None else "—"
    label = t("http.title", method=exchange.method, path=exchange.path, status=status)
    if lazy:
        panel = st.expander(label, expanded=expanded, icon=":material/http:", key=f"{key}.open",
                            on_change="rerun")
        if not panel.open:
            return
    else:
        panel = st.expander(label, expanded=expanded, icon=":material/http:")
    with panel:
        tabs = st.tabs([t("http.request"), "curl", t("http.terminal"), "Python", t("http.response"),
                        t("http.fields")])
        with tabs[0]:
            if exchange.body is None:
                st.caption(t("http.no_body", method=exchange.method))
            else:
                st.code(http_view.request_json(exchange, note), language="json")
                _download(t("http.download_json"), lambda: http_view.request_json(exchange),
                          "request.json", f"{key}.json")
        with tabs[1]:
            st.code(http_view.curl_command(exchange, note), language="bash")
            _download(t("http.download_curl"), lambda: http_view.curl_command(exchange), "request.sh",
                      f"{key}.curl")
        with tabs[2]:
            _terminal_tab(exchange)
        with tabs[3]:
            _python_tab(exchange, key)
        with tabs[4]:
            text, hidden = http_view.response_text(exchange, note)
            st.caption(t("http.response_meta", status=status,
                         content_type=exchange.content_type or "—",
                         lines=exchange.line_count,
                         elapsed=f"{(exchange.elapsed_s or 0) * 1000:.0f}"))
            st.code(text or t("http.empty_body"), language="json" if text else None)
            if hidden:
                st.caption(t("http.hidden_lines", count=hidden))
            if text and not exchange.streamed:  # one JSON body, recorded whole: the complete copy
                _download(t("http.download_response"), lambda: http_view.response_body(exchange),
                          "response.json", f"{key}.response")
        with tabs[5]:
            fields = http_view.explain_final(exchange.final_chunk(), note, lang())
            if not fields:
                st.caption(t("http.no_fields"))
            else:
                st.dataframe(
                    [{t("http.col.field"): f.name, t("http.col.value"): f.value,
                      t("http.col.readable"): f.readable, t("http.col.meaning"): t(f.meaning_key)}
                     for f in fields],
                    hide_index=True, width="stretch")
            total = f"{(exchange.elapsed_s or 0) * 1000:.0f}"
            if exchange.first_byte_s is not None and exchange.streamed:
                st.caption(t("http.client_timing", first=f"{exchange.first_byte_s * 1000:.0f}", total=total))
            elif exchange.first_byte_s is not None:  # one JSON body: its first byte comes with the last
                st.caption(t("http.client_timing_whole", total=total))


def _terminal_tab(exchange: Exchange) -> None:
    """The same call with the `ollama` command (lib/terminal.py), and the session's commands."""
    twin = terminal.twin(exchange)
    if twin is None:
        st.caption(t("http.terminal.none"))
    else:
        st.code(twin.text, language="bash")
        if twin.note_key:
            st.caption(t(twin.note_key))
        if twin.left_out:
            st.caption(t("http.terminal.left_out", fields=", ".join(f"`{name}`" for name in twin.left_out)))
    with st.popover(t("http.terminal.reference"), icon=":material/terminal:"):
        st.caption(t("http.terminal.reference_intro"))
        st.table({t("http.terminal.col.command"): [command for _, command in REPL_COMMANDS],
                  t("http.terminal.col.does"): [t(f"http.terminal.repl.{name}") for name, _ in REPL_COMMANDS]})


def _python_tab(exchange: Exchange, key: str) -> None:
    """`requests` as the course writes it, the official `ollama` client, and the lesson's read-all."""
    st.caption(t("http.python.requests"))
    st.code(http_view.python_code(exchange, note), language="python")
    _download(t("http.download_python"), lambda: http_view.python_code(exchange), "request.py", f"{key}.py")
    client_code = http_view.ollama_code(exchange, note)
    st.caption(t("http.python.ollama") if client_code else t("http.python.no_ollama"))
    if client_code:
        st.code(client_code, language="python")
        _download(t("http.download_python"), lambda: http_view.ollama_code(exchange), "request_ollama.py",
                  f"{key}.ollama")
    if read_all := http_view.python_read_all(exchange, note):
        st.caption(t("http.python.lesson"))
        st.code(read_all, language="python")


def number_table(rows, formats: dict[str, str], column_config: dict | None = None) -> None:
    """st.dataframe (of row dicts or a DataFrame) whose number columns (`formats`: {column: "%.1f GB"})
    read in the page's language. Streamlit's printf formats write a decimal point; only a language that
    writes another mark pays for a pandas Styler, and the cells keep their numbers either way (the
    table sorts by value)."""
    language = lang()
    if formatting.DECIMAL_MARK.get(language, ".") == "." or len(rows) == 0:
        config = {column: st.column_config.NumberColumn(format=fmt) for column, fmt in formats.items()}
        st.dataframe(rows, hide_index=True, width="stretch", column_config={**config, **(column_config or {})})
        return
    # "%.1f GB" -> "{:.1f} GB"
    python = {column: re.sub(r"%([^a-z%]*[a-z])", r"{:\1}", fmt) for column, fmt in formats.items()}
    st.dataframe(formatting.table(rows, language, python), hide_index=True, width="stretch",
                 column_config=column_config)


def note(kind: str, count: int) -> str:
    """What stands for the part of a long value left off screen: '4,920 characters', '42 tokens'."""
    return t(f"http.note.{kind}", count=number(count, ",", lang()))


def _download(label: str, data, file_name: str, key: str) -> None:
    """`data` may be a function: then the file is made only when the button is clicked."""
    st.download_button(label, data, file_name=file_name, key=key, icon=":material/download:",
                       on_click="ignore")


def age(parts: tuple[int, str] | None, future: bool = False) -> str:
    """'41 seconds ago' / 'in 4 minutes'; None (no expiry) reads 'forever'."""
    if parts is None:
        return t("age.forever")
    amount, unit = parts
    unit_text = t(f"unit.{unit}_one" if amount == 1 else f"unit.{unit}")
    return t("age.future" if future else "age.past", amount=amount, unit=unit_text)


COMMON_OPTIONS = (  # (option, min, max, step): the controls every page with options shows
    ("temperature", 0.0, 2.0, 0.1), ("seed", -1, 2**31 - 1, 1), ("top_k", 1, 1000, 1),
    ("top_p", 0.0, 1.0, 0.05), ("num_predict", -1, 100_000, 16), ("num_ctx", 256, 131_072, 256),
    ("repeat_penalty", 0.0, 3.0, 0.05),
)


def option_inputs(prefix: str, placeholders: dict[str, str] | None = None) -> tuple[dict, list]:
    """The common options as inputs (empty = not sent), `stop` one per line, and an advanced JSON
    box for any other option. `placeholders`: what an empty input means, per option (the chat says
    what the chosen model runs); otherwise the server's default. Returns (options to send, the problems
    that would make Ollama refuse the request)."""
    chosen = {}
    columns = st.columns(4)
    for position, (name, low, high, step) in enumerate(COMMON_OPTIONS):
        option = options_reference.BY_NAME[name]
        # as typed in the input (a point), like the chat's per-model placeholders
        default = t("options.default", value=str(option.default) if option.default is not None else "—")
        value = columns[position % 4].number_input(
            name, min_value=low, max_value=high, step=step, value=None,
            key=f"{prefix}.setting.{name}", help=t(option.meaning_key),
            placeholder=(placeholders or {}).get(name, default))
        if value is not None:
            chosen[name] = int(value) if option.type == options_reference.INT else float(value)
    stop = columns[3].text_area("stop", key=f"{prefix}.setting.stop", height=68,
                                help=t("option.stop"), placeholder=t("options.stop_placeholder"))
    if stop_list := options_reference.parse_stop(stop or ""):
        chosen["stop"] = stop_list
    advanced = st.text_area(t("options.advanced"), key=f"{prefix}.setting.advanced", height=68,
                            placeholder='{"min_p": 0.05, "repeat_last_n": 128}', help=t("options.advanced_help"))
    extra, problems = options_reference.parse_advanced(advanced or "")
    for problem in problems:  # an unknown or removed option is sent: Ollama ignores it, and says so in its log
        st.warning(t(problem.key, **problem.values), icon=":material/warning:")
    for note in options_reference.notes(extra):
        st.info(t(note.key, **note.values), icon=":material/info:")
    return {**chosen, **extra}, [problem for problem in problems if problem.blocking]


def setting(page: str, name: str, default=None) -> str:
    """The key of a widget whose value outlives a visit to another page (see keep_settings),
    with its first value: widgets keyed this way get no `value=` of their own."""
    key = f"{page}.setting.{name}"
    st.session_state.setdefault(key, default)
    return key


def installed_model_names(error_key: str) -> list[str]:
    """Names of the installed models; on failure the error is shown and the list is empty."""
    try:
        return [m.get("name") for m in installed_tags()[0].get("models") or []]
    except OllamaError as error:
        show_error(error, key=error_key)
        return []


def keep_settings() -> None:
    """Widgets' values vanish when their page is not shown; keys with `.setting.` survive (a
    Streamlit idiom: assigning a key to itself turns it into state the page switch keeps)."""
    for key in [k for k in st.session_state if isinstance(k, str) and ".setting." in k]:
        st.session_state[key] = st.session_state[key]


def page_title(key: str) -> None:
    """The page's title and summary, then the messages left by the last run's callbacks."""
    st.title(t(f"{key}.title"))
    st.caption(t(f"{key}.summary"))
    show_flashes()
