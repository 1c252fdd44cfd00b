"""state_latency: p50 / p95 latency of StateChecker.which on 1920x1080 screenshots for
clip (ViT-B-32 bf16, random weights), text and clip+text: a cold frame, an unchanged
frame, and a frame with a small changed region. Baseline: a cold ScreenClassifier.classify
call on the same frame (what a loop without the checker would pay every time)."""

from __future__ import annotations

import time

from common import DEV, dev_files, p
from PIL import Image, ImageDraw
from run import result


def run(quick: bool) -> dict:
    from screenstate import EncoderOptions, ScreenClassifier, StateChecker

    files = dev_files(size=(1920, 1080))[: 6 if quick else 20]
    frames = [Image.open(f).convert("RGB") for f in files]
    opts = EncoderOptions(clip_pretrained="random", device="cpu")
    rows = []
    summary = {}
    for enc in ("clip", "text", "clip+text"):
        checker = StateChecker(DEV / "classes.json", encoder=enc, options=opts)
        checker.which(frames[0])
        lat: dict[str, list[float]] = {"cold": [], "unchanged": [], "small change": []}
        for i, fr in enumerate(frames):
            checker.reset()
            t = time.perf_counter()
            checker.which(fr)
            lat["cold"].append(time.perf_counter() - t)
            same = fr.copy()  # a new screenshot object with the same pixels
            t = time.perf_counter()
            checker.which(same)
            lat["unchanged"].append(time.perf_counter() - t)
            changed = fr.copy()
            ImageDraw.Draw(changed).rectangle((100, 1000, 340, 1030), fill=(i * 10 % 255, 90, 200))
            ImageDraw.Draw(changed).text((110, 1005), f"Saved {i} files", fill=(255, 255, 255))
            t = time.perf_counter()
            checker.which(changed)
            lat["small change"].append(time.perf_counter() - t)
        for kind, v in lat.items():
            rows.append({"encoder": enc, "frame": kind, "p50_ms": 1000 * p(v, 50), "p95_ms": 1000 * p(v, 95)})
            summary[f"{enc} {kind}"] = 1000 * p(v, 50)
    plain = ScreenClassifier(DEV / "classes.json", encoder="clip", options=opts, memory_cache=0)  # encode every frame
    plain.classify(frames[0])
    base = []
    for fr in frames:
        t = time.perf_counter()
        plain.classify(fr)
        base.append(time.perf_counter() - t)
    out = result(
        "state_latency",
        "ms (p50, clip, unchanged frame)",
        summary["clip unchanged"],
        "ScreenClassifier.classify per frame (clip)",
        1000 * p(base, 50),
        higher_is_better=False,
        frames=len(frames),
        resolution="1920x1080",
        **{k.replace(" ", "_") + "_p50_ms": v for k, v in summary.items()},
    )
    out["table"] = rows
    out["notes"] = (
        "clip runs with random weights (none can be downloaded here), so its scores are near-uniform: "
        "clip+text partial reads often land within StateChecker's confirm_margin and are re-read in "
        "full, which is the clip+text small-change p95."
    )
    return out
