"""visual_latency: per-screen latency of the visual channel (foreground finding + both
descriptors, decoded RGB in, features out) on 1920x1080 dev screenshots, p50 over 20,
with OpenCV limited to 2 threads (the 2-core target: <= 50 ms), against the text
channel's OCR + embedding of the same screens measured in the same run (the baseline a
state check would otherwise pay), plus the relevance step against 45 exemplars."""

from __future__ import annotations

import functools

from common import dev_files, p, timed
from PIL import Image
from run import result


def run(quick: bool) -> dict:
    import cv2

    from screenstate.embeddings.factory import EncoderOptions, create_encoder
    from screenstate.embeddings.visual import VisualChannel
    from screenstate.schema import Column

    cv2.setNumThreads(2)
    files = dev_files(size=(1920, 1080))[: 8 if quick else 20]
    images = [Image.open(f).convert("RGB") for f in files]
    vis = VisualChannel()
    vis.encode_images(images[:2])  # warm-up
    v_lat = [timed(functools.partial(vis.encode_images, [im])) for im in images]
    feats = vis.encode_images(images)
    exemplars = (feats * 3)[:45]
    cols = [Column(i % 15, False, None, f, str(i)) for i, f in enumerate((files * 3)[:45])]
    ex = vis.encode_examples(cols, image_features=exemplars)
    r_lat = [timed(functools.partial(vis.relevance, [f], ex)) for f in feats]
    text = create_encoder("text", EncoderOptions(device="cpu")).channels[0]
    text.encode_images(images[:1])  # warm-up
    t_lat = [timed(functools.partial(text.encode_images, [im])) for im in images[: 4 if quick else 8]]
    out = result(
        "visual_latency",
        "ms per 1920x1080 screen (p50, visual channel features)",
        round(1000 * p(v_lat, 50), 2),
        baseline_name="text channel (OCR + MiniLM) on the same screens",
        baseline_value=round(1000 * p(t_lat, 50), 1),
        higher_is_better=False,
        screens=len(images),
        opencv_threads=2,
    )
    out["table"] = [
        {"step": "visual features", "p50_ms": round(1000 * p(v_lat, 50), 2), "p95_ms": round(1000 * p(v_lat, 95), 2)},
        {"step": "visual relevance vs 45 exemplars", "p50_ms": round(1000 * p(r_lat, 50), 3)},
        {"step": "text features (baseline)", "p50_ms": round(1000 * p(t_lat, 50), 1)},
    ]
    return out
