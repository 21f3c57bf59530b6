"""4. Describe an image (course section 6.7): Pillow, base64 both ways, multimodal models, the
course's `stream: false` request, and Ollama's real 400 for an image sent with its `data:` prefix."""
import pathlib

import streamlit as st

from lib import i18n, images, ui, ui_vision
from lib.client import OllamaError
from lib.formatting import human_bytes

ui.ensure_app_frame()
t = ui.t
ui.page_title("vision")
ui_vision.settle_live()

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
            st.caption(t("vision.base64.decoded", chars=len("".join(body.split())), size=human_bytes(len(data), ui.lang())))
            return data
    if (given := st.session_state.get(f"vision.{source}")) is None:
        st.caption(t(f"vision.{source}.none"))
    return given


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
    ui_vision.show_prepared(ready)

# ------------------------------------------------------------------------------ describe
st.header(t("vision.describe.header"))
area = None  # where the description streams in, below the button
try:
    scan = ui_vision.scan_models(refresh=st.button(t("vision.refresh"), icon=":material/refresh:", key="vision.refresh"))
except OllamaError as error:
    ui.show_error(error, key="vision.models")
    scan = None
if scan is not None and not scan.vision:
    ui_vision.no_vision_model(scan)
elif scan is not None:
    if st.session_state[model_key := ui.setting("vision", "model", scan.vision[0])] not in scan.vision:
        st.session_state[model_key] = scan.vision[0]  # that model was deleted meanwhile
    model = st.selectbox(t("vision.model.label"), scan.vision, help=t("vision.model.help"), key=model_key)
    defaults = {i18n.translate(lang, "vision.prompt.default") for lang in i18n.LANGUAGES}
    if st.session_state[prompt_key := ui.setting("vision", "prompt", None)] in defaults | {None}:
        st.session_state[prompt_key] = t("vision.prompt.default")  # follows the language until edited
    prompt = st.text_input(t("vision.prompt.label"), key=prompt_key)
    streaming = st.toggle(t("vision.stream.label"), key=ui.setting("vision", "stream", True), help=t("vision.stream.help"))
    if st.button(t("vision.describe.button"), type="primary", icon=":material/image_search:",
                 disabled=ready is None, key="vision.describe") and ready is not None:
        area = st.empty()
        ui_vision.describe(model, prompt, ready.base64, area, stream=streaming)
    if ready is None:
        st.caption(t("vision.no_image"))
if result := st.session_state.get(ui_vision.RESULT):
    ui_vision.show_result(result, area or st.empty())
