"""An image as the course sends it to a multimodal model: Pillow in, base64 out, and back.

Pure functions (no Streamlit). `prepare()` turns whatever the student gives (a phone photo, a
screenshot, an animated GIF...) into what Ollama's native API wants: a plain base64 string of a
reasonably sized JPEG or PNG. Every change it makes is reported as a note (an i18n key and its
values) so the page can explain it. Bad input raises `ImageError` with an i18n key, never a
Pillow traceback; memory stays bounded (JPEGs are decoded at a reduced scale, pixel counts are
checked before decoding).
"""
from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image, ImageOps, UnidentifiedImageError

from lib.client import ServerError
from lib.i18n import Refusal
from lib.ollama_facts import parse_model_name

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")  # JPEG includes MPO (phone cameras)
UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp", "gif", "bmp")  # for st.file_uploader
LOSSLESS_FORMATS = ("PNG", "GIF", "BMP")
MAX_INPUT_BYTES = 50_000_000  # a file past this is not a photo worth sending to a local model
MAX_PIXELS = 60_000_000  # 8000x6000 and 50-megapixel cameras pass; bigger is refused unread
MAX_BASE64_CHARS = MAX_INPUT_BYTES * 4 // 3 + 4096
DEFAULT_SIDE = 1024
SIDES = (256, 384, 512, 672, 768, 1024, 1344, 1536, 2048)
JPEG_QUALITY = 85
PREVIEW_SIDE = 512  # the "as received" picture on the page
FEW_COLOURS = 256  # drawings and diagrams with up to this many colours stay PNG (sharp and small)
WHITE = (255, 255, 255)
_DATA_PREFIX = re.compile(r"^\s*data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[\w=.+-]+)*?;base64,", re.I)
_WHITESPACE = re.compile(r"\s+")
_BASE64_CHARS = re.compile(r"[^A-Za-z0-9+/=]")


class ImageError(Refusal):
    """Input that cannot become an image to send."""


@dataclass(frozen=True)
class Prepared:
    """The image as received and as it will be sent."""

    original_format: str
    original_size: tuple[int, int]
    original_mode: str
    original_bytes: int
    frames: int
    data: bytes  # the encoded image that is sent
    format: str  # "JPEG" or "PNG"
    size: tuple[int, int]
    mode: str
    base64: str
    preview: bytes  # the image as received (pixels as stored, transparency kept), small
    notes: list[tuple[str, dict]] = field(default_factory=list)  # (i18n key, values)

    @property
    def extension(self) -> str:
        return "jpg" if self.format == "JPEG" else "png"

    @property
    def mime(self) -> str:
        return f"image/{self.format.lower()}"

    @property
    def base64_ratio(self) -> float:
        """Base64 length over bytes: 4/3 (every 3 bytes become 4 characters), plus padding."""
        return len(self.base64) / len(self.data) if self.data else 0.0


# ------------------------------------------------------------------------------- base64
def encode_base64(data: bytes) -> str:
    """What `base64 -w 0 imagen1.jpg` prints: one line, standard alphabet, with padding."""
    return base64.b64encode(data).decode("ascii")


def strip_data_prefix(text: str) -> tuple[str, str | None]:
    """(the base64 alone, the `data:image/...;base64,` prefix removed or None).

    Browsers and many web APIs write images as data URLs; Ollama's native API wants the plain
    base64 and answers 400 `illegal base64 data at input byte 4` (the `:` after `data`) otherwise.
    """
    match = _DATA_PREFIX.match(text or "")
    if not match:
        return text or "", None
    return text[match.end():], match.group(0).strip()


def decode_base64(text: str) -> bytes:
    """Bytes from pasted base64: data: prefix, spaces and line breaks (`base64` wraps at 76
    columns) accepted; anything else is an ImageError that says where and what."""
    if len(text or "") > MAX_BASE64_CHARS:
        raise ImageError("vision.error.too_big_file", limit=f"{MAX_INPUT_BYTES // 1_000_000} MB")
    body, _ = strip_data_prefix(text or "")
    body = _WHITESPACE.sub("", body)
    if not body:
        raise ImageError("vision.error.base64_empty")
    if bad := _BASE64_CHARS.search(body):
        raise ImageError("vision.error.base64_char", char=bad.group(0), position=bad.start())
    data_end = len(body.rstrip("="))
    if "=" in body[:data_end] or len(body) - data_end > 2:  # padding only at the end, at most 2
        raise ImageError("vision.error.base64_char", char="=", position=body.index("=", 0))
    if len(body) % 4:
        raise ImageError("vision.error.base64_length", length=len(body))
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as error:  # e.g. too much padding
        raise ImageError("vision.error.base64_invalid", detail=str(error)) from None


# -------------------------------------------------------------------------------- Pillow
def open_image(data: bytes) -> Image.Image:
    """Header only (Pillow is lazy): format, size and mode known, no pixels decoded yet."""
    if not data:
        raise ImageError("vision.error.empty")
    if len(data) > MAX_INPUT_BYTES:
        raise ImageError("vision.error.too_big_file", limit=f"{MAX_INPUT_BYTES // 1_000_000} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        claimed = re.search(r"\((\d+) pixels\)", str(error))  # Pillow says "Image size (N pixels)..."
        raise ImageError("vision.error.bomb", pixels=f"{int(claimed.group(1)):,}" if claimed else "?",
                         limit=MAX_PIXELS) from None
    except UnidentifiedImageError:
        raise ImageError("vision.error.not_image", formats=", ".join(UPLOAD_TYPES)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError("vision.error.corrupt", detail=str(error)) from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError("vision.error.bomb", pixels=_wh(image.size), limit=MAX_PIXELS)
    return image


def prepare(data: bytes, longest_side: int = DEFAULT_SIDE, send_as: str = "auto") -> Prepared:
    """The image to send: first frame, EXIF orientation applied, flattened to RGB (or L) on
    white, downscaled to `longest_side`, re-encoded as JPEG (photos) or PNG (drawings, or when
    `send_as` says so). The work is done on the smallest image possible: decode small, resize,
    then convert and rotate."""
    image = open_image(data)
    original = (image.format, image.size, image.mode)
    notes: list[tuple[str, dict]] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                image.seek(0)
                notes.append(("vision.note.first_frame", {"frames": frames}))
            orientation = image.getexif().get(0x0112, 1)
            image = _to_resizable(_decode_small(image, longest_side, notes), notes)
            image.thumbnail((longest_side, longest_side), Image.Resampling.LANCZOS)
            preview = _encode(_preview(image), "PNG" if image.mode in ("RGBA", "LA") else "JPEG")
            image = _flatten(image, notes)
            if orientation in (2, 3, 4, 5, 6, 7, 8):
                image = ImageOps.exif_transpose(image)
                notes.append(("vision.note.exif", {"orientation": orientation}))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("vision.error.bomb", pixels=_wh(original[1]), limit=MAX_PIXELS) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError) as error:
        raise ImageError("vision.error.corrupt", detail=str(error) or type(error).__name__) from None
    if max(image.size) < max(original[1]):
        notes.append(("vision.note.downscaled", {"before": _wh(original[1]), "after": _wh(image.size),
                                                 "side": longest_side}))
    fmt = _choose_format(send_as, original[0], image)
    encoded = _encode(image, fmt)
    notes.append((f"vision.note.sent_{fmt.lower()}", {"quality": JPEG_QUALITY}))
    return Prepared(original_format=original[0], original_size=original[1],
                    original_mode=original[2], original_bytes=len(data), frames=frames,
                    data=encoded, format=fmt, size=image.size, mode=image.mode,
                    base64=encode_base64(encoded), preview=preview, notes=notes)


def _wh(size: tuple[int, int]) -> str:
    return f"{size[0]}×{size[1]}"


def _decode_small(image: Image.Image, longest_side: int, notes: list) -> Image.Image:
    """JPEGs decode at 1/2, 1/4 or 1/8 scale when that is still at least twice the target (as
    Pillow's own thumbnail does): a 24-megapixel photo never exists in memory at full size."""
    full = image.size
    if image.format in ("JPEG", "MPO") and max(full) > longest_side:
        scale = longest_side / max(full)
        target = (max(1, round(full[0] * scale * 2)), max(1, round(full[1] * scale * 2)))
        image.draft(image.mode if image.mode in ("L", "RGB") else None, target)
    image.load()
    if image.size != full:
        notes.append(("vision.note.draft", {"before": _wh(full), "after": _wh(image.size)}))
    return image


def _to_resizable(image: Image.Image, notes: list) -> Image.Image:
    """Modes Pillow resizes well: L, RGB, RGBA, LA, CMYK. Palette, bilevel, 16-bit and float
    images are converted first (a palette resized as a palette is blocky)."""
    mode = image.mode
    if mode in ("L", "RGB", "RGBA", "LA", "CMYK"):
        return image
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        notes.append(("vision.note.palette_alpha" if has_alpha else "vision.note.palette", {}))
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode == "1":
        notes.append(("vision.note.converted", {"mode": mode, "to": "L"}))
        return image.convert("L")
    if mode.startswith("I;16") or mode in ("I", "F"):
        wide = image.convert("F" if mode == "F" else "I")
        low, high = wide.getextrema()
        top = 65535 if mode.startswith("I;16") else max(high, 255)
        scaled = wide.point(lambda v: v * (255 / top)) if top > 255 else wide
        notes.append(("vision.note.sixteen_bit", {"mode": mode}))
        return scaled.convert("L")
    notes.append(("vision.note.converted", {"mode": mode, "to": "RGB"}))
    return image.convert("RGB")


def _flatten(image: Image.Image, notes: list) -> Image.Image:
    """RGB or L, what every model's image decoder reads: transparency composited on white."""
    mode = image.mode
    if mode in ("RGBA", "LA"):
        if image.getextrema()[-1][0] < 255:  # some pixel is (partly) transparent
            notes.append(("vision.note.alpha", {}))
        else:
            notes.append(("vision.note.converted", {"mode": mode, "to": mode[0] if mode == "LA" else "RGB"}))
        base = Image.new("RGB", image.size, WHITE)
        base.paste(image.convert("RGB"), mask=image.getchannel("A"))
        return base if mode == "RGBA" else base.convert("L")
    if mode == "CMYK":
        notes.append(("vision.note.converted", {"mode": mode, "to": "RGB"}))
        return image.convert("RGB")
    return image


def _choose_format(send_as: str, source_format: str, image: Image.Image) -> str:
    if send_as in ("JPEG", "PNG"):
        return send_as
    if source_format in LOSSLESS_FORMATS and image.getcolors(FEW_COLOURS) is not None:
        return "PNG"
    return "JPEG"


def _preview(image: Image.Image) -> Image.Image:
    small = image.convert("RGB") if image.mode == "CMYK" else image.copy()
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    return small


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=JPEG_QUALITY)
    else:
        image.save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue()


# ----------------------------------------------------------------------- which models see
# Servers older than `capabilities` in /api/show (Ollama < 0.6.4): decide by the model's name.
VISION_NAMES = {"llava", "bakllava", "llava-llama3", "llava-phi3", "moondream", "minicpm-v",
                "llama3.2-vision", "llama4", "qwen2.5vl", "qwen2-vl", "qwen3-vl",
                "granite3.2-vision", "mistral-small3.1", "mistral-small3.2", "gemma3"}
TEXT_ONLY_TAGS = {"gemma3": ("270m", "1b")}  # gemma3's smallest sizes have no vision encoder
SUGGESTED = ("llava", "moondream", "gemma3:4b")  # the course's model, then smaller ones


def vision_by_name(model: str) -> bool:
    """`registry/namespace/llava:7b` is llava; Ollama compares names without case."""
    parsed = parse_model_name(model)
    if parsed is None:
        return False
    name, tag = parsed.model.lower(), parsed.tag.lower()
    return name in VISION_NAMES and not tag.startswith(TEXT_ONLY_TAGS.get(name, ()))


def sees_images(model: str, show: dict | None) -> bool:
    """`vision` in /api/show's capabilities; older servers: the clip projector or the name."""
    if isinstance(show, dict):
        capabilities = show.get("capabilities")
        if isinstance(capabilities, list):
            return "vision" in capabilities
        families = (show.get("details") or {}).get("families") or []
        if isinstance(families, list) and "clip" in families:
            return True
    return vision_by_name(model)


@dataclass(frozen=True)
class ModelScan:
    vision: list[str]  # models that can read images
    text_only: list[str]  # installed models that cannot


def vision_models(tags: dict, show: Callable[[str, str], dict]) -> ModelScan:
    """The installed models (`tags`, from /api/tags) split by whether they see images.

    `show(name, digest)` returns the model's /api/show (the page passes a cache shared by every
    session, so a model version is asked once). Connection failures propagate (the page explains
    them); a model whose /api/show fails with a server error (deleted meanwhile, an old server)
    is judged by its name.
    """
    vision, text_only = [], []
    for entry in tags.get("models") or []:
        name = entry.get("name") or entry.get("model")
        if not name:
            continue
        try:
            details = show(name, entry.get("digest") or "")
        except ServerError:
            details = None
        (vision if sees_images(name, details) else text_only).append(name)
    return ModelScan(vision, text_only)
