"""text_channel_latency: per-screenshot latency of the text channel on 1920x1080 dev
screenshots (p50 over 20): our OCR settings vs rapidocr's defaults (same run), each OCR
choice on its own, and the warm paths (features from the in-memory and on-disk caches)."""

from __future__ import annotations

import tempfile

import numpy as np
from common import DEV, dev_files, latencies, p
from PIL import Image
from run import result


def run(quick: bool) -> dict:
    from rapidocr_onnxruntime import RapidOCR

    from screenstate import ClassSpec, EncoderOptions, ScreenClassifier
    from screenstate.embeddings.ocr import OcrOptions, ScreenOCR

    all_files = dev_files(size=(1920, 1080))
    files = all_files[: 8 if quick else 20]
    images = [Image.open(f).convert("RGB") for f in files]
    # warm-up (model load, first input shapes) on screenshots that are not measured
    spare = [Image.open(f).convert("RGB") for f in all_files[-2:]]
    rows = []
    default = RapidOCR()
    default(np.asarray(spare[0])[:, :, ::-1].copy())
    base = latencies(lambda im: default(np.asarray(im)[:, :, ::-1].copy()), images)
    rows.append({"config": "rapidocr defaults (baseline)", "p50_ms": 1000 * p(base, 50), "p95_ms": 1000 * p(base, 95)})
    for label, o in (
        (
            "onnxruntime, no angle classifier, full-res det, pad 320",
            OcrOptions(engine="onnxruntime", det_max_side=4096, min_rec_width=320, rec_batch=6),
        ),
        ("+ det on 1600 px copy", OcrOptions(engine="onnxruntime", min_rec_width=320, rec_batch=6)),
        ("+ pad crops to width buckets from 96 px", OcrOptions(engine="onnxruntime")),
        ("+ openvino fp32", OcrOptions(engine="openvino", precision="fp32")),
        (
            "+ openvino bf16 (ours on this CPU; fp32 where no native bf16)",
            OcrOptions(engine="openvino", precision="bf16"),
        ),
    ):
        ocr = ScreenOCR(o)
        for im in spare:
            ocr(im)
        lat = latencies(ocr, images)
        rows.append({"config": label, "p50_ms": 1000 * p(lat, 50), "p95_ms": 1000 * p(lat, 95)})
    spec = ClassSpec.from_json(DEV / "classes.json")
    with tempfile.TemporaryDirectory() as cache:
        clf = ScreenClassifier(spec, encoder="text", options=EncoderOptions(device="cpu"), cache=cache)
        for im in spare:
            clf.classify(im)
        cold = latencies(clf.classify, files)
        warm_mem = latencies(clf.classify, files)
        disk_only = ScreenClassifier(spec, encoder=clf.encoder, cache=cache, memory_cache=0)
        warm = latencies(disk_only.classify, files)
    rows.append(
        {
            "config": "ScreenClassifier text, cold (OCR + embed + classify)",
            "p50_ms": 1000 * p(cold, 50),
            "p95_ms": 1000 * p(cold, 95),
        }
    )
    rows.append(
        {
            "config": "ScreenClassifier text, warm (disk cache hit)",
            "p50_ms": 1000 * p(warm, 50),
            "p95_ms": 1000 * p(warm, 95),
        }
    )
    rows.append(
        {
            "config": "ScreenClassifier text, seen again (memory cache hit)",
            "p50_ms": 1000 * p(warm_mem, 50),
            "p95_ms": 1000 * p(warm_mem, 95),
        }
    )
    out = result(
        "text_channel_latency",
        "ms (p50, cold, 1920x1080)",
        1000 * p(cold, 50),
        "rapidocr defaults",
        1000 * p(base, 50),
        higher_is_better=False,
        images=len(files),
        warm_p50_ms=1000 * p(warm, 50),
        memory_hit_p50_ms=1000 * p(warm_mem, 50),
    )
    out["table"] = rows
    return out
