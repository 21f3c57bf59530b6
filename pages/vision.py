"""4. Describe an image (course section 6.7): Pillow, base64 both ways, multimodal models."""
import pathlib

import streamlit as st

from lib import i18n, images, ui
from lib.client import OllamaError
from lib.formatting import human_bytes, human_duration, tokens_per_second
from lib.http_view import shorten

ui.ensure_app_frame()
t = ui.t
ui.page_title("vision")

SAMPLE = pathlib.Path(__file__).resolve().parent.parent / "assets" / "sample-imagen1.png"
SOURCES = ("sample", "upload", "camera", "base64")


def keep_file(source: str) -> None:
    """Uploaded bytes are kept apart: a file widget's value cannot be set back."""
    file = st.session_state.get(f"vision.{source}.w")
    st.session_state[f"vision.{source}"] = None if file is None else file.getvalue()


@st.cache_data(max_entries=16, show_spinner=False)
def prepared(data: bytes, side: int, send_as: str) -> images.Prepared:
    return images.prepare(data, side, send_as)


def image_input(source: str) -> bytes | None:
    """The image from the chosen source, or None (with a hint shown)."""
    if source == "sample":
        st.caption(t("vision.sample.caption"))
        return SAMPLE.read_bytes()
    if source == "upload":
        st.file_uploader(t("vision.upload.label"), type=list(images.UPLOAD_TYPES), help=t("vision.upload.help"),
                         key="vision.upload.w", on_change=keep_file, args=(source,))
    elif source == "camera":
        st.camera_input(t("vision.camera.label"), key="vision.camera.w", on_change=keep_file, args=(source,))
    else:
        text = st.text_area(t("vision.base64.label"), height=120, help=t("vision.base64.help"),
                            key=ui.setting("vision", "pasted", ""), placeholder="iVBORw0KGgo…")
        body, prefix = images.strip_data_prefix(text)
        if prefix:
            st.info(t("vision.prefix_removed", prefix=prefix), icon=":material/content_cut:")
        if text.strip():
            data = images.decode_base64(text)
            st.caption(t("vision.base64.decoded", chars=f"{len(''.join(body.split())):,}", size=human_bytes(len(data))))
            return data
    if (given := st.session_state.get(f"vision.{source}")) is None:
        st.caption(t(f"vision.{source}.none"))
    return given


def facts(fmt: str, size: tuple[int, int], mode: str, nbytes: int) -> str:
    return t("vision.facts", format=fmt, width=size[0], height=size[1], mode=mode, size=human_bytes(nbytes))


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
    cols = st.columns(3)
    cols[0].metric(t("vision.metric.received"), human_bytes(p.original_bytes))
    cols[1].metric(t("vision.metric.sent"), human_bytes(len(p.data)))
    cols[2].metric(t("vision.metric.base64"), t("vision.metric.base64_value", chars=f"{len(p.base64):,}"),
                   delta=t("vision.metric.ratio", ratio=f"{p.base64_ratio:.2f}"), delta_color="off", delta_arrow="off",
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
    with st.expander(t("vision.mistake.title"), icon=":material/warning:"):
        st.markdown(t("vision.mistake.body"))


def scan_models(refresh: bool = False) -> images.ModelScan:
    """Which installed models see images: /api/show again only when the installed list changes."""
    if refresh:
        ui.forget_server_lists()
    tags, _ = ui.installed_tags()
    installed = (ui.client().base_url, tuple((m.get("name"), m.get("digest")) for m in tags.get("models") or []))
    cached = st.session_state.get("vision.scan")
    if refresh or cached is None or cached[0] != installed:
        cached = st.session_state["vision.scan"] = (installed, images.vision_models(ui.client(), tags))
    return cached[1]


def no_vision_model(scan: images.ModelScan) -> None:
    st.warning(f"**{t('vision.no_vision.title')}**\n\n{t('vision.no_vision.body')}", icon=":material/visibility_off:")
    st.code("\n".join(f"ollama pull {name}" for name in images.SUGGESTED), language="bash")
    if scan.text_only:
        st.caption(t("vision.no_vision.installed", models=", ".join(scan.text_only)))
    st.page_link("pages/models.py", label=t("vision.no_vision.link"), icon=":material/inventory_2:")


def describe(model: str, prompt: str, p: images.Prepared, area) -> None:
    """Stream the description into `area`; whatever happens, keep what arrived in the session."""
    result = {"model": model, "prompt": prompt, "text": "", "final": None, "exchange": None, "error": None}
    stream = None
    try:
        stream = ui.client().generate(model, prompt, images=[p.base64])
        with area.container():
            st.write_stream(stream.texts())
    except OllamaError as error:
        result["error"], result["exchange"] = error, error.exchange
    finally:
        if stream is not None:
            stream.close()
            result.update(text=stream.text, final=stream.final, exchange=stream.exchange)
    st.session_state["vision.result"] = result


def timings(final: dict) -> None:
    load, prompt_ns, gen = (final.get(k) for k in ("load_duration", "prompt_eval_duration", "eval_duration"))
    speed = tokens_per_second(final.get("eval_count"), gen)
    cols = st.columns(4)
    cols[0].metric(t("vision.time.load"), human_duration(load))
    cols[1].metric(t("vision.time.prompt"), human_duration(prompt_ns), help=t("vision.time.prompt_help"))
    cols[2].metric(t("vision.time.generation"), human_duration(gen))
    cols[3].metric(t("vision.time.speed"), t("vision.time.speed_value", speed=f"{speed:.1f}") if speed else "—")
    if total := final.get("total_duration"):
        st.caption(t("vision.time.note", total=human_duration(total), share=f"{(prompt_ns or 0) / total:.0%}"))


def show_result(result: dict, area) -> None:
    with area.container():
        st.caption(t("vision.result.caption", model=result["model"], prompt=result["prompt"]))
        if result["text"]:
            st.markdown(result["text"])  # model output: Markdown, never HTML
    if result["error"] is not None:
        if result["text"]:
            st.caption(t("vision.partial"))
        ui.show_error(result["error"], key="vision.describe")
    if result["final"]:
        timings(result["final"])
    if result["exchange"] is not None and result["error"] is None:
        ui.show_http(result["exchange"], key="vision.http")


# ------------------------------------------------------------------------------ the image
source = st.segmented_control(t("vision.source.label"), SOURCES, required=True, key=ui.setting("vision", "source", "sample"),
                              format_func={s: t(f"vision.source.{s}") for s in SOURCES}.get)
left, right = st.columns(2)
side = left.select_slider(t("vision.side.label"), images.SIDES, help=t("vision.side.help"),
                          key=ui.setting("vision", "side", images.DEFAULT_SIDE))
send_as = right.segmented_control(t("vision.format.label"), ("auto", "JPEG", "PNG"), required=True,
                                  key=ui.setting("vision", "send_as", "auto"), help=t("vision.format.help"),
                                  format_func={"auto": t("vision.format.auto"), "JPEG": "JPEG", "PNG": "PNG"}.get)

ready = None
try:
    if given := image_input(source):
        ready = prepared(given, side, send_as)
except images.ImageError as error:
    st.error(f"**{t('vision.error.title')}**\n\n{t(error.key, **error.values)}", icon=":material/broken_image:")
if ready is not None:
    show_prepared(ready)

# ------------------------------------------------------------------------------ describe
st.header(t("vision.describe.header"))
area = None  # where the description streams in, below the button
try:
    scan = scan_models(refresh=st.button(t("vision.refresh"), icon=":material/refresh:", key="vision.refresh"))
except OllamaError as error:
    ui.show_error(error, key="vision.models")
    scan = None
if scan is not None and not scan.vision:
    no_vision_model(scan)
elif scan is not None:
    if st.session_state[model_key := ui.setting("vision", "model", scan.vision[0])] not in scan.vision:
        st.session_state[model_key] = scan.vision[0]  # that model was deleted meanwhile
    model = st.selectbox(t("vision.model.label"), scan.vision, help=t("vision.model.help"), key=model_key)
    defaults = {i18n.translate(lang, "vision.prompt.default") for lang in i18n.LANGUAGES}
    if st.session_state[prompt_key := ui.setting("vision", "prompt", None)] in defaults | {None}:
        st.session_state[prompt_key] = t("vision.prompt.default")  # follows the language until edited
    prompt = st.text_input(t("vision.prompt.label"), key=prompt_key)
    if st.button(t("vision.describe.button"), type="primary", icon=":material/image_search:",
                 disabled=ready is None, key="vision.describe") and ready is not None:
        area = st.empty()
        describe(model, prompt, ready, area)
    if ready is None:
        st.caption(t("vision.no_image"))
if result := st.session_state.get("vision.result"):
    show_result(result, area or st.empty())
