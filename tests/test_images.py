"""lib/images.py on images made here: every kind a student may give, and every kind of bad input;
which installed models see images; and lib/vision.py describing one."""
import base64
import hashlib
import io
import json
import pathlib
import re
import struct
import subprocess
import sys
import time
import zlib

import pytest
from PIL import Image

from lib import i18n, images, vision
from lib.client import CannotConnect, ModelNotFound, OllamaClient
from lib.images import ImageError

ROOT = pathlib.Path(__file__).resolve().parent.parent
# sha256 of the course's sample image (shared/seeds/sample-imagen1.png), copied into assets/
COURSE_IMAGE_SHA256 = "b261c055204814d1fc442444addbab02c8b3266027ef18709e5724210eff6bb3"


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def keys(prepared) -> list[str]:
    return [key for key, _ in prepared.notes]


def note(prepared, key: str) -> dict:
    return dict(prepared.notes)[key]


def sent(prepared) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(prepared.base64)))
    assert image.format == prepared.format and image.size == prepared.size
    return image


def close(pixel, expected, tolerance=12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected))


def photo(size=(300, 200)) -> Image.Image:
    """Many colours and some noise, as a photo has (PNG compresses it badly, JPEG well)."""
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 24)
    return Image.merge("RGB", (Image.blend(gradient, noise, 0.3), noise,
                               gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height with one tiny IDAT: how a decompression bomb starts."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# ------------------------------------------------------------------------------ good input
def test_the_course_sample_is_a_png_sent_as_png():
    data = (ROOT / "assets" / "sample-imagen1.png").read_bytes()
    assert hashlib.sha256(data).hexdigest() == COURSE_IMAGE_SHA256  # the course's file, byte for byte
    p = images.prepare(data)
    assert (p.original_format, p.original_size, p.original_mode) == ("PNG", (109, 102), "RGBA")
    assert (p.format, p.size, p.mode) == ("PNG", (109, 102), "RGB")
    course = "iVBORw0KGgoAAAANSUhEUgAAAG0AAABmCAYAAADBPx+VAAAACXBIWXMAAAsTAAALEwEAmpwYAAAAAXNSR0IArs4c6QAAAA"
    assert images.encode_base64(data).startswith(course)  # the file is the course's, byte for byte
    assert p.base64.startswith("iVBORw0KGgoAAAANSUhEUgAAAG0AAABm")  # PNG, 109x102 (then RGB, not RGBA)
    assert keys(p) == ["vision.note.converted", "vision.note.sent_png"]
    assert note(p, "vision.note.converted") == {"mode": "RGBA", "to": "RGB"}
    assert sent(p).tobytes() == Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def test_png_photo_is_sent_as_jpeg_and_base64_is_four_thirds():
    data = encode(photo(), "PNG")
    p = images.prepare(data)
    assert (p.original_format, p.format, p.size, p.mode) == ("PNG", "JPEG", (300, 200), "RGB")
    assert p.original_bytes == len(data) and len(p.data) < len(data)
    assert len(p.base64) == 4 * ((len(p.data) + 2) // 3)
    assert 1.33 <= p.base64_ratio <= 1.34
    assert keys(p) == ["vision.note.sent_jpeg"] and note(p, "vision.note.sent_jpeg") == {"quality": 85}
    assert (p.extension, p.mime) == ("jpg", "image/jpeg")


def test_format_can_be_forced():
    data = encode(photo(), "PNG")
    p = images.prepare(data, send_as="PNG")
    assert p.format == "PNG"
    assert sent(p).tobytes() == Image.open(io.BytesIO(data)).tobytes()  # lossless


def test_jpeg_with_exif_orientation_6_is_rotated():
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    image.paste((0, 0, 255), (100, 0, 200, 100))  # left half red, right half blue, as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    p = images.prepare(encode(image, "JPEG", exif=exif, quality=95))
    assert p.original_size == (200, 100) and p.size == (100, 200)
    assert note(p, "vision.note.exif") == {"orientation": 6}
    shown = sent(p)
    assert close(shown.getpixel((50, 20)), (255, 0, 0)) and close(shown.getpixel((50, 180)), (0, 0, 255))
    # the "as received" preview keeps the pixels as stored (sideways)
    assert Image.open(io.BytesIO(p.preview)).size == (200, 100)


def test_webp():
    p = images.prepare(encode(photo((400, 300)), "WEBP", quality=90))
    assert (p.original_format, p.original_size, p.format, p.size) == ("WEBP", (400, 300), "JPEG", (400, 300))


def test_animated_gif_sends_the_first_frame():
    frames = [Image.new("RGB", (60, 40), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    p = images.prepare(data)
    assert (p.original_format, p.original_mode, p.frames) == ("GIF", "P", 3)
    assert note(p, "vision.note.first_frame") == {"frames": 3}
    assert "vision.note.palette" in keys(p)
    assert (p.format, p.mode) == ("PNG", "RGB") and sent(p).getpixel((30, 20)) == (255, 0, 0)


def test_bmp_downscaled_to_the_chosen_side():
    p = images.prepare(encode(photo((640, 480)), "BMP"), longest_side=320)
    assert (p.original_format, p.original_size, p.size) == ("BMP", (640, 480), (320, 240))
    assert note(p, "vision.note.downscaled") == {"before": "640×480", "after": "320×240", "side": 320}
    assert "vision.note.draft" not in keys(p)  # only JPEG decodes at a reduced scale


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    p = images.prepare(encode(Image.new("I;16", (64, 64), 40000), "PNG"))
    assert p.original_mode.startswith("I")
    assert p.mode == "L" and sent(p).getpixel((0, 0)) in (155, 156)  # 40000/65535 of white, not 255
    assert "vision.note.sixteen_bit" in keys(p)


def test_cmyk_jpeg_becomes_rgb():
    p = images.prepare(encode(Image.new("CMYK", (100, 80), (0, 255, 255, 0)), "JPEG", quality=95))
    assert (p.original_mode, p.mode, p.format) == ("CMYK", "RGB", "JPEG")
    assert note(p, "vision.note.converted") == {"mode": "CMYK", "to": "RGB"}
    assert close(sent(p).getpixel((50, 40)), (255, 0, 0), 20)


def test_palette_with_a_transparent_colour_goes_on_white():
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 20, 40))  # left: red; right: index 0, transparent
    p = images.prepare(encode(image, "PNG", transparency=0))
    assert p.original_mode == "P" and p.mode == "RGB"
    assert keys(p)[:2] == ["vision.note.palette_alpha", "vision.note.alpha"]
    assert sent(p).getpixel((5, 5)) == (200, 0, 0) and sent(p).getpixel((35, 5)) == (255, 255, 255)


def test_transparent_rgba_composited_on_white():
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))  # transparent black: black if alpha is dropped
    image.paste((255, 0, 0, 128), (0, 0, 20, 40))
    p = images.prepare(encode(image, "PNG"))
    assert (p.original_mode, p.mode) == ("RGBA", "RGB") and "vision.note.alpha" in keys(p)
    shown = sent(p)
    assert shown.getpixel((35, 5)) == (255, 255, 255)
    assert close(shown.getpixel((5, 5)), (255, 127, 127), 2)
    assert Image.open(io.BytesIO(p.preview)).mode == "RGBA"  # "as received" keeps the transparency


@pytest.fixture(scope="module")
def huge_jpeg(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("huge") / "8000x6000.jpg"
    Image.linear_gradient("L").resize((8000, 6000)).convert("RGB").save(path, "JPEG", quality=80)
    return path


def test_huge_photo_is_decoded_small(huge_jpeg):
    p = images.prepare(huge_jpeg.read_bytes())
    assert (p.original_size, p.size, p.format) == ((8000, 6000), (1024, 768), "JPEG")
    assert note(p, "vision.note.draft") == {"before": "8000×6000", "after": "4000×3000"}
    assert note(p, "vision.note.downscaled")["after"] == "1024×768"


def test_huge_photo_memory_stays_bounded(huge_jpeg):
    """Peak memory of prepare() on a 48-megapixel JPEG, in a fresh process: far below the 144 MB
    a full-size RGB decode takes."""
    script = ("import resource, sys, pathlib; from lib import images; "
              "data = pathlib.Path(sys.argv[1]).read_bytes(); "
              "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
              "images.prepare(data); "
              "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)")
    grown_kb = int(subprocess.run([sys.executable, "-c", script, str(huge_jpeg)], cwd=ROOT, check=True,
                                  capture_output=True, text=True).stdout)
    assert grown_kb < 80_000, f"prepare() grew the process by {grown_kb / 1000:.0f} MB"


# ------------------------------------------------------------------------------- bad input
def test_damaged_files_never_escape_as_anything_but_image_error():
    """Seeded random damage (changed, cut and inserted bytes) to every accepted format."""
    import random
    import warnings
    rng = random.Random(6)
    base = photo((64, 48))
    seeds = [encode(base, fmt) for fmt in ("PNG", "JPEG", "WEBP", "BMP")]
    seeds.append(encode(base, "GIF", save_all=True, append_images=[base.rotate(90)]))
    outcomes = {"prepared": 0, "refused": 0}
    for _ in range(600):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            if rng.random() < 0.7:
                data[at] = rng.randrange(256)
            else:
                del data[at:at + rng.randint(1, 40)]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Pillow warns about damaged EXIF, then carries on
                images.prepare(bytes(data), longest_side=32)
            outcomes["prepared"] += 1
        except ImageError:
            outcomes["refused"] += 1
    assert outcomes["prepared"] > 50 and outcomes["refused"] > 50, outcomes


@pytest.mark.parametrize("width, height", [(9000, 9000), (40000, 40000)])
def test_decompression_bomb_is_refused_before_decoding(width, height):
    with pytest.raises(ImageError) as caught:
        images.prepare(png_header_only(width, height))
    assert caught.value.key == "vision.error.bomb"
    expected = f"{width}×{height}" if width * height < Image.MAX_IMAGE_PIXELS else f"{width * height:,}"
    assert caught.value.values == {"pixels": expected, "limit": 60_000_000}  # a number: the page writes it in its language


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file(fmt):
    data = encode(photo((400, 300)), fmt)
    with pytest.raises(ImageError) as caught:
        images.prepare(data[: len(data) // 2])
    assert caught.value.key == "vision.error.corrupt" and caught.value.values["detail"]


@pytest.mark.parametrize("data", [b"hello, not an image", b"%PDF-1.7\n%...", b"<svg xmlns='x'></svg>",
                                  encode(Image.new("RGB", (8, 8)), "TIFF")])
def test_not_an_image(data):
    with pytest.raises(ImageError) as caught:
        images.prepare(data)
    assert caught.value.key == "vision.error.not_image"
    assert caught.value.values == {"formats": "png, jpg, jpeg, webp, gif, bmp"}


def test_empty_and_oversized_files(monkeypatch):
    with pytest.raises(ImageError) as caught:
        images.prepare(b"")
    assert caught.value.key == "vision.error.empty"
    monkeypatch.setattr(images, "MAX_INPUT_BYTES", 1000)
    with pytest.raises(ImageError) as caught:
        images.prepare(encode(photo(), "PNG"))
    assert caught.value.key == "vision.error.too_big_file"


# ---------------------------------------------------------------------------------- base64
def test_round_trip_base64_bytes_same_pixels():
    data = encode(photo((120, 90)), "PNG")
    p = images.prepare(data, send_as="PNG")
    assert images.decode_base64(p.base64) == p.data
    assert Image.open(io.BytesIO(images.decode_base64(p.base64))).tobytes() == \
        Image.open(io.BytesIO(data)).tobytes()


def test_data_prefix_and_line_breaks_are_accepted():
    data = encode(Image.new("RGB", (10, 10), (1, 2, 3)), "PNG")
    text = base64.b64encode(data).decode()
    wrapped = "\n".join(text[i:i + 76] for i in range(0, len(text), 76)) + "\n"  # what `base64` prints
    assert images.decode_base64(wrapped) == data
    assert images.decode_base64(f"data:image/png;base64,{text}") == data
    assert images.decode_base64(f"  data:image/png;charset=utf-8;base64,\n{wrapped}") == data
    assert images.strip_data_prefix(f"data:image/png;base64,{text}") == (text, "data:image/png;base64,")
    assert images.strip_data_prefix(text) == (text, None)


@pytest.mark.parametrize("text, key, values", [
    ("", "vision.error.base64_empty", {}),
    ("data:image/png;base64,", "vision.error.base64_empty", {}),
    ("iVBOR$w0K", "vision.error.base64_char", {"char": "$", "position": 5}),
    ("data:image/png,iVBORw0K", "vision.error.base64_char", {"char": ":", "position": 4}),  # no ;base64
    ("iVBO=Rw0", "vision.error.base64_char", {"char": "=", "position": 4}),
    ("iVBORw0KG", "vision.error.base64_length", {"length": 9}),
    ("iVBORw0K====", "vision.error.base64_char", {"char": "=", "position": 8}),
    ("iVBORw0K=Q==", "vision.error.base64_char", {"char": "=", "position": 8}),
])
def test_invalid_base64(text, key, values):
    with pytest.raises(ImageError) as caught:
        images.decode_base64(text)
    assert caught.value.key == key
    if values is not None:
        assert caught.value.values == values


def test_the_data_prefix_fails_where_ollama_says():
    """Go's decoder (and ours) stop at byte 4 of `data:image/...`: the `:`."""
    with pytest.raises(ImageError) as caught:
        images.decode_base64("data:image/png;base64")
    assert caught.value.values == {"char": ":", "position": 4}


def test_decoded_text_that_is_not_an_image():
    with pytest.raises(ImageError) as caught:
        images.prepare(images.decode_base64(base64.b64encode(b"just some text").decode()))
    assert caught.value.key == "vision.error.not_image"


# ---------------------------------------------------------------------------------- models
@pytest.mark.parametrize("name, expected", [
    ("llava", True), ("llava:latest", True), ("llava:13b", True), ("bakllava", True),
    ("llava-llama3:8b", True), ("llava-phi3", True), ("moondream:1.8b", True), ("minicpm-v", True),
    ("llama3.2-vision:11b", True), ("qwen2.5vl:3b", True), ("granite3.2-vision", True),
    ("gemma3", True), ("gemma3:4b", True), ("gemma3:12b-it-qat", True),
    ("gemma3:1b", False), ("gemma3:270m", False), ("gemma3:270m-base", False),
    ("registry.ollama.ai/library/llava:7b", True), ("gemma:2b", False), ("llama3", False), ("mistral", False),
])
def test_vision_by_name(name, expected):
    assert images.vision_by_name(name) is expected


def test_capabilities_win_over_the_name():
    assert images.sees_images("gemma:2b", {"capabilities": ["completion", "vision"]})
    assert not images.sees_images("llava", {"capabilities": ["completion"]})
    assert images.sees_images("custom", {"details": {"families": ["llama", "clip"]}})  # old llava
    assert images.sees_images("llava", {"details": {"families": ["llama"]}})  # old server: the name
    assert not images.sees_images("custom", None)


def test_vision_models_asks_show_by_name_and_digest():
    tags = {"models": [{"name": "gemma:2b", "digest": "a1"}, {"name": "custom:latest", "digest": "b2"},
                       {"name": "llava:7b", "digest": "c3"}, {"model": "moondream:latest"}, {"digest": "no name"}]}
    answers = {"gemma:2b": {"capabilities": ["completion"]},
               "custom:latest": {"capabilities": ["completion", "vision"]},
               "moondream:latest": {"details": {"families": ["phi2", "clip"]}}}  # an older server
    asked = []

    def show(name: str, digest: str) -> dict:
        asked.append((name, digest))
        if name not in answers:
            raise ModelNotFound(f"model '{name}' not found", 404, name)  # deleted meanwhile
        return answers[name]

    scan = images.vision_models(tags, show)
    assert (scan.vision, scan.text_only) == (["custom:latest", "llava:7b", "moondream:latest"], ["gemma:2b"])
    assert asked == [("gemma:2b", "a1"), ("custom:latest", "b2"), ("llava:7b", "c3"), ("moondream:latest", "")]


def test_vision_models_lets_connection_errors_through():
    def show(name: str, digest: str) -> dict:
        raise CannotConnect("connection refused", "refused")

    with pytest.raises(CannotConnect):
        images.vision_models({"models": [{"name": "llava", "digest": "x"}]}, show)
    assert images.vision_models({}, show) == images.ModelScan([], [])  # nothing installed: nothing asked


def test_vision_models_from_the_fake(fake_ollama):
    client = OllamaClient(fake_ollama.url)
    scan = images.vision_models(client.tags(), lambda name, digest: client.show(name))
    assert (scan.vision, scan.text_only) == (["llava:latest"], ["gemma:2b"])
    assert [b["model"] for b in fake_ollama.bodies("/api/show")] == ["gemma:2b", "llava:latest"]


def test_vision_models_on_a_server_without_capabilities(fake_ollama):
    fake_ollama.reply("POST", "/api/show", 404, {"error": "model not found"})
    client = OllamaClient(fake_ollama.url)
    scan = images.vision_models(client.tags(), lambda name, digest: client.show(name))
    assert (scan.vision, scan.text_only) == (["llava:latest"], ["gemma:2b"])


# -------------------------------------------------------------------- describing (lib/vision.py)
def test_a_description_streams_and_keeps_its_numbers(fake_ollama):
    job = vision.Describing(OllamaClient(fake_ollama.url), "llava:latest", "Describe the image.", "iVBORw0KGgo=")
    pieces = list(job.texts())
    job.settle()
    result = job.result
    assert "".join(pieces) == result.text and result.text.startswith(" The image shows a playful")
    assert fake_ollama.bodies("/api/generate")[-1]["images"] == ["iVBORw0KGgo="]
    assert result.error is None and not result.cut_short and result.exchange.status == 200
    done = result.generation
    assert (done.prompt_eval_s, done.output_tokens, round(done.tokens_per_second, 1)) == (55.839368, 131, 8.3)
    assert done.wall_s == result.exchange.elapsed_s and done.first_token_s == result.exchange.first_byte_s


def test_a_description_that_cannot_start(fake_ollama):
    fake_ollama.reply("POST", "/api/generate", 404, {"error": "model 'llava:latest' not found"})
    job = vision.Describing(OllamaClient(fake_ollama.url), "llava:latest", "Describe.", "iVBORw0KGgo=")
    assert list(job.texts()) == []
    job.settle()
    assert isinstance(job.result.error, ModelNotFound) and job.result.exchange.status == 404
    assert job.result.generation is None and not job.result.cut_short


def test_an_error_half_way_keeps_the_text(fake_ollama):
    fake_ollama.stream("POST", "/api/generate", ['{"response":" A cat","done":false}',
                                                 '{"error":"llama runner process has terminated"}'])
    job = vision.Describing(OllamaClient(fake_ollama.url), "llava:latest", "Describe.", "iVBORw0KGgo=")
    assert list(job.texts()) == [" A cat"]
    job.settle()
    assert (job.result.text, job.result.cut_short, job.result.generation) == (" A cat", True, None)
    assert "llama runner process has terminated" in str(job.result.error)


def test_another_run_settles_an_interrupted_description(fake_ollama):
    """A click or a page change starts a new run while the old one still reads: the new run calls
    settle(), the server sees the connection close, and the text that arrived is kept."""
    lines = [json.dumps({"response": f" word{n}", "done": False}) for n in range(50)]
    fake_ollama.stream("POST", "/api/generate", lines, delay=0.05)
    job = vision.Describing(OllamaClient(fake_ollama.url), "llava:latest", "Describe.", "iVBORw0KGgo=")
    pieces = job.texts()
    first = [next(pieces), next(pieces)]
    job.settle()  # from "another run"
    assert list(pieces) == []  # the old run's stream ends quietly
    assert job.result.text == "".join(first) == " word0 word1" and job.result.cut_short
    assert job.result.error is None and job.result.exchange.status == 200
    deadline = time.monotonic() + 10
    while "client closed" not in fake_ollama.stream_endings and time.monotonic() < deadline:
        time.sleep(0.02)  # the fake notices the closed connection at its next line
    assert "client closed" in fake_ollama.stream_endings  # (an earlier test's stream may end here too)


def test_every_key_in_lib_images_is_translated():
    source = (ROOT / "lib" / "images.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"(vision\.(?:note|error)\.[a-z_0-9]+)"', source))
    used |= {f"vision.note.sent_{fmt}" for fmt in ("png", "jpeg")}  # built with an f-string
    assert len(used) > 15
    for lang in i18n.LANGUAGES:
        assert sorted(used - set(i18n.catalog(lang))) == []
    catalog = json.loads((ROOT / "assets" / "i18n" / "en" / "vision.json").read_text(encoding="utf-8"))
    assert {"vision.title", "vision.summary"} <= set(catalog)
