"""Preparing a phone photo for a multimodal model: lib/images.prepare() on a 24-megapixel JPEG vs
Pillow's own `thumbnail` + `save` on the same bytes, alternating in one run. Target: at most 1.2.

prepare() does more (EXIF, mode checks, a preview, base64); Pillow's thumbnail is the floor for
"open, shrink to 1024, encode". The photo has noise and detail, so decoding and encoding cost what
they cost on a real photo.

Why prepare() can come out faster: Pillow's thumbnail asks JPEG's draft mode for the whole box
times its reducing gap (2048x2048 here), so a 3:2 landscape photo is decoded at full size;
prepare() asks for the aspect-kept target times the same gap (2048x1365), which lets libjpeg
decode at 1/2 scale.
"""
import io

from PIL import Image

from lib import images
from tests.benchmarks import alternate_medians

SIZE = (6000, 4000)  # 24 megapixels
ROUNDS = 9


def photo() -> bytes:
    gradient = Image.linear_gradient("L").resize(SIZE)
    noise = Image.effect_noise(SIZE, 32)
    image = Image.merge("RGB", (Image.blend(gradient, noise, 0.4), noise, gradient.rotate(180)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def pillow_thumbnail(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data))
    image.thumbnail((images.DEFAULT_SIDE, images.DEFAULT_SIDE))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=images.JPEG_QUALITY)
    return out.getvalue()


def through_prepare(data: bytes) -> bytes:
    return images.prepare(data).data


def main() -> None:
    data = photo()
    assert Image.open(io.BytesIO(pillow_thumbnail(data))).size == Image.open(io.BytesIO(through_prepare(data))).size
    plain_s, prepare_s = alternate_medians((lambda: pillow_thumbnail(data), lambda: through_prepare(data)), ROUNDS)
    print(f"{SIZE[0]}x{SIZE[1]} JPEG ({len(data) / 1e6:.1f} MB) to a {images.DEFAULT_SIDE}-pixel JPEG, "
          f"median of {ROUNDS} alternating rounds:")
    print(f"  Pillow thumbnail + save: {plain_s * 1000:.1f} ms")
    print(f"  lib/images.prepare():    {prepare_s * 1000:.1f} ms")
    print(f"  ratio prepare / Pillow: {prepare_s / plain_s:.3f} (target <= 1.2)")


if __name__ == "__main__":
    main()
