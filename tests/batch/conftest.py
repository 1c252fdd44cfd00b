"""Video fixtures: tiny screen recordings encoded in the tests with PyAV (H.264 in MP4)."""

from __future__ import annotations

import fractions
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from PIL import Image, ImageDraw


def encode_video(
    path: Path,
    frames: Sequence[tuple[Image.Image, float]],
    codec: str = "libx264",
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Write ``(image, time_s)`` frames with exact timestamps (variable frame rate)."""
    av = pytest.importorskip("av")
    out = av.open(str(path), "w", options=container_options or {})
    stream = out.add_stream(codec, rate=30, options=options or {"crf": "18", "g": "30", "bf": "0"})
    stream.width, stream.height = frames[0][0].size
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = fractions.Fraction(1, 1000)
    ms = fractions.Fraction(1, 1000)

    def mux(packets) -> None:
        for p in packets:
            p.time_base = ms  # flushed packets come back labelled with the muxer's time base
            out.mux(p)

    for img, t in frames:
        f = av.VideoFrame.from_image(img.convert("RGB"))
        f.pts, f.time_base = int(round(t * 1000)), ms
        mux(stream.encode(f))
    mux(stream.encode())
    out.close()
    return path


def with_cursor(img: Image.Image, x: int, y: int) -> Image.Image:
    """A copy with a small arrow cursor drawn at (x, y)."""
    im = img.copy()
    ImageDraw.Draw(im).polygon(
        [(x, y), (x, y + 18), (x + 5, y + 14), (x + 12, y + 14)], fill=(0, 0, 0), outline=(255, 255, 255)
    )
    return im


@pytest.fixture()
def make_video(tmp_path) -> Callable[..., Path]:
    def make(name: str, frames: Sequence[tuple[Image.Image, float]], **kw) -> Path:
        return encode_video(tmp_path / name, frames, **kw)

    return make
