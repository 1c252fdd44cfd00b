"""Write screen recordings: H.264 videos with exact (variable) frame times, and a drawn
cursor. Used to make test videos and the ``video_throughput`` benchmark's recording, and
handy for turning a folder of screenshots into a video.

    write_video("rec.mp4", [(img0, 0.0), (img1, 0.1), (img2, 0.35)])
"""

from __future__ import annotations

import fractions
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw


def draw_cursor(img: Image.Image, x: int, y: int) -> Image.Image:
    """A copy of ``img`` with an arrow cursor (black, white outline, 12x18 px) at (x, y)."""
    im = img.copy()
    ImageDraw.Draw(im).polygon(
        [(x, y), (x, y + 18), (x + 5, y + 14), (x + 12, y + 14)], fill=(0, 0, 0), outline=(255, 255, 255)
    )
    return im


def write_video(
    path: str | Path,
    frames: Iterable[tuple[Image.Image, float]],
    codec: str = "libx264",
    options: dict[str, str] | None = None,
) -> Path:
    """Encode ``(image, time_s)`` frames (same size, increasing times) with millisecond
    timestamps; ``options`` go to the encoder (default x264 CRF 18, keyframe every 30)."""
    import av

    path = Path(path)
    out = av.open(str(path), "w")
    ms = fractions.Fraction(1, 1000)
    stream: Any = None

    def mux(packets: Any) -> None:
        for p in packets:
            p.time_base = ms  # flushed packets come back labelled with the muxer's time base
            out.mux(p)

    try:
        for img, t in frames:
            if stream is None:
                stream = out.add_stream(codec, rate=30, options=options or {"crf": "18", "g": "30", "bf": "0"})
                stream.width, stream.height = img.size
                stream.pix_fmt = "yuv420p"
                stream.codec_context.time_base = ms
            f = av.VideoFrame.from_image(img.convert("RGB"))
            f.pts, f.time_base = int(round(t * 1000)), ms
            mux(stream.encode(f))
        if stream is None:
            raise ValueError("write_video: no frames")
        mux(stream.encode())
    finally:
        out.close()
    return path
