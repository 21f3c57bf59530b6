"""The Image description page's sections (Streamlit), kept out of pages/vision.py: what is sent,
which models see images, and the description with its timings."""
from __future__ import annotations

import streamlit as st

from lib import images, ui, vision
from lib.client import ServerError
from lib.formatting import human_bytes, human_seconds
from lib.generation import Generation
from lib.http_view import shorten
from lib.safe_text import model_markdown
from lib.ui import t

RESULT = "vision.result"  # the latest Description, kept across page changes
LIVE = "vision.live"  # the Describing under way, for a newer run to settle
PROVOKED = "vision.provoked"  # (mistake, byte the 400 should name, Ollama's error) of the last provocation


# ------------------------------------------------------------------------------ the image
def facts(fmt: str, size: tuple[int, int], mode: str, nbytes: int) -> str:
    return t("vision.facts", format=fmt, width=size[0], height=size[1], mode=mode, size=human_bytes(nbytes, ui.lang()))


def show_prepared(p: images.Prepared) -> None:
    st.header(t("vision.sent.header"))
    received, sent = st.columns(2)
    caption = facts(p.original_format, p.original_size, p.original_mode, p.original_bytes)
    if p.frames > 1:
        caption += " · " + t("vision.frames", frames=p.frames)
    received.markdown(f"**{t('vision.received')}**")
    received.image(p.preview, caption=caption)
    sent.markdown(f"**{t('vision.as_sent')}**")
    sent.image(p.data, caption=facts(p.format, p.size, p.mode, len(p.data)))
    cols, lang = st.columns(3), ui.lang()
    cols[0].metric(t("vision.metric.received"), human_bytes(p.original_bytes, lang))
    cols[1].metric(t("vision.metric.sent"), human_bytes(len(p.data), lang))
    cols[2].metric(t("vision.metric.base64"), t("vision.metric.base64_value", chars=len(p.base64)),
                   delta=t("vision.metric.ratio", ratio=p.base64_ratio), delta_color="off", delta_arrow="off",
                   help=t("vision.metric.base64_help"))
    st.markdown(f"**{t('vision.notes')}**")
    st.markdown("\n".join(f"- {t(key, **values)}" for key, values in p.notes))

    file_name = f"imagen1.{p.extension}"
    st.subheader(t("vision.base64.title"))
    st.code(shorten(p.base64, ui.note, 60), language=None, wrap_lines=True)
    st.caption(t("vision.base64.shortened"))
    left, right, _ = st.columns([1, 1, 2])
    left.download_button(t("vision.base64.download", name="imagen1.txt"), p.base64, file_name="imagen1.txt",
                         mime="text/plain", icon=":material/download:", on_click="ignore", key="vision.dl.txt")
    right.download_button(t("vision.image.download", name=file_name), p.data, file_name=file_name,
                          mime=p.mime, icon=":material/download:", on_click="ignore", key="vision.dl.image")
    if st.toggle(t("vision.base64.show_all"), key="vision.show_all"):
        st.code(p.base64, language=None, wrap_lines=True)
    with st.expander(t("vision.shell.title"), icon=":material/terminal:"):
        st.markdown(t("vision.shell.body"))
        st.code(f"base64 {file_name} > imagen1.txt\nbase64 -w 0 {file_name} > imagen1.txt\n"
                f"base64 -d imagen1.txt > {file_name}", language="bash")
        st.markdown(t("vision.shell.curl"))
        st.code(course_curl(ui.client().base_url, t("vision.prompt.default"), file_name), language="bash")
        st.markdown(t("vision.shell.cli"))  # cmd/cmd.go: a vision model's prompt goes through extractFileData
        st.code(f'ollama run {images.SUGGESTED[0]} "{t("vision.prompt.default")} ./{file_name}"', language="bash")
    with st.expander(t("vision.mistake.title"), icon=":material/warning:"):
        st.markdown(t("vision.mistake.body"))
        provoke_mistake(p)


def course_curl(url: str, prompt: str, file_name: str) -> str:
    """The course's request (section 6.7: llava, `"stream": false`), the base64 put in by the shell."""
    return (f"curl {url}/api/generate -d '{{\n  \"model\": \"{images.SUGGESTED[0]}\",\n  \"prompt\": \"{prompt}\",\n"
            f"  \"stream\": false,\n  \"images\": [\"'\"$(base64 -w 0 {file_name})\"'\"]\n}}'")


def provoke_mistake(p: images.Prepared) -> None:
    """Send the image wrongly on purpose (data: prefix, or a space) and show Ollama's real 400."""
    model = st.session_state.get("vision.setting.model") or images.SUGGESTED[0]
    mistake = st.radio(t("vision.provoke.mistake"), vision.MISTAKES, key="vision.provoke.mistake", horizontal=True,
                       format_func=ui.labels("vision.provoke."))
    if st.button(ui.t_escaped("vision.provoke.button", model=model), key="vision.provoke", icon=":material/bug_report:"):
        st.session_state[PROVOKED] = (mistake, *vision.provoke(ui.client(), model, t("vision.prompt.default"),
                                                               p.base64, p.mime, mistake))
    if (provoked := st.session_state.get(PROVOKED)) is None:
        return
    mistake, byte, error = provoked
    if error is None:
        st.warning(t("vision.provoke.accepted"), icon=":material/warning:")
    elif isinstance(error, ServerError) and error.status == 400 and "illegal base64 data" in error.message:
        st.error(ui.t_escaped("vision.provoke.answer", status=error.status, message=error.message),
                 icon=":material/broken_image:")
        st.markdown(t(f"vision.provoke.explained.{mistake}", byte=byte))
    else:
        st.warning(ui.t_escaped("vision.provoke.unexpected", byte=byte, detail=error.message), icon=":material/warning:")
    if error is not None and error.exchange is not None:
        ui.show_http(error.exchange, key="vision.provoke.http")


# ------------------------------------------------------------------------------ the models
def _show(name: str, digest: str) -> dict:
    return ui.model_show(name, digest)[0]


@st.cache_data(max_entries=64, show_spinner=False)
def _scan(url: str, installed: str, _tags: dict) -> images.ModelScan:
    """One scan per server and installed list, shared by every session: a rerun reads one cached
    answer, not one per model (300 cached /api/show answers took 67 ms, even the fake's small
    ones), and a model whose /api/show failed (judged by its name) is not asked again each rerun.
    The key is `installed`: names and digests as one string, which hashes far faster than 300
    tuples; `_tags` is left out of it."""
    return images.vision_models(_tags, _show)


def scan_models(refresh: bool = False) -> images.ModelScan:
    """Which installed models see images, known at once for every session: /api/show is asked once
    per (server, model, digest) (ui.model_show). Refresh lists the models and judges them again."""
    if refresh:
        _scan.clear()
    return _scan(*ui.installed_listing(refresh))


def no_vision_model(scan: images.ModelScan) -> None:
    st.warning(f"**{t('vision.no_vision.title')}**\n\n{t('vision.no_vision.body')}", icon=":material/visibility_off:")
    st.code("\n".join(f"ollama pull {name}" for name in images.SUGGESTED), language="bash")
    if scan.text_only:
        st.caption(ui.t_escaped("vision.no_vision.installed", models=", ".join(scan.text_only)))
    st.page_link("pages/models.py", label=t("vision.no_vision.link"), icon=":material/inventory_2:")


# ------------------------------------------------------------------------------ describe
def settle_live() -> None:
    """A new run while a description streams (a click, coming back from another page) ends it
    here: Streamlit 1.67 starts the new run before the old one has stopped, so this run closes the
    stream and keeps what arrived, and draws that."""
    if job := st.session_state.pop(LIVE, None):
        job.settle()


def describe(model: str, prompt: str, image_base64: str, area, stream: bool = True) -> None:
    """Stream the description into `area` (or wait for it whole, as the course does). The result
    is in the session before the first word, and `finally` keeps what arrived even when another
    run interrupts this one."""
    if stream:
        job = vision.Describing(ui.client(), model, prompt, image_base64)
    else:
        with st.spinner(t("vision.waiting")):
            job = vision.Describing(ui.client(), model, prompt, image_base64, stream=False)
    st.session_state[RESULT] = job.result
    if job.result.error is not None or not stream:
        return
    st.session_state[LIVE] = job
    try:
        with area.container():
            ui.stream_model_text(job.texts())
    finally:
        job.settle()
        if st.session_state.get(LIVE) is job:  # a newer run may have started another one
            del st.session_state[LIVE]


def timings(done: Generation) -> None:
    """The description's phases. vision.time.prompt_help: 576 image tokens for llava 1.5, about 2880
    for 1.6's AnyRes tiles (llama.cpp #5852); num_ctx raised to 2048 for vision models
    (server/sched.go getRunner)."""
    cols, lang = st.columns(4), ui.lang()
    cols[0].metric(t("vision.time.load"), human_seconds(done.load_s, lang))
    cols[1].metric(t("vision.time.prompt"), human_seconds(done.prompt_eval_s, lang), help=t("vision.time.prompt_help"))
    cols[2].metric(t("vision.time.generation"), human_seconds(done.eval_s, lang))
    speed = done.tokens_per_second
    cols[3].metric(t("vision.time.speed"), t("vision.time.speed_value", speed=speed) if speed else "—")
    if done.total_s:
        share = (done.prompt_eval_s or 0) / done.total_s
        st.caption(t("vision.time.note", total=human_seconds(done.total_s, lang), share=share))


def show_result(result: vision.Description, area) -> None:
    with area.container():
        st.caption(ui.t_escaped("vision.result.caption", model=result.model, prompt=result.prompt))
        if result.text:
            st.markdown(model_markdown(result.text))  # formatting kept; images and HTML as text
    if result.cut_short:
        st.caption(t("vision.partial"))
    if result.error is not None:
        ui.show_error(result.error, key="vision.describe")
    if (done := result.generation) is not None:
        timings(done)
    if result.exchange is not None and result.error is None:
        ui.show_http(result.exchange, key="vision.http")
