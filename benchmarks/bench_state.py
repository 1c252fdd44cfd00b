"""state_latency: p50 / p95 latency of StateChecker.which on 1920x1080 screenshots for
clip (ViT-B-32 bf16, random weights), text and clip+text: a cold frame, an unchanged
frame, and a frame with a small changed region. Baseline: the default ScreenClassifier
(its memory cache on, as a user gets it) over the same frame sequence with the same
encoder, so each kind of frame is compared with what ``classify`` pays for it."""

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
        default = ScreenClassifier(DEV / "classes.json", encoder=checker.classifier.encoder)  # default settings
        for who, call in (("StateChecker.which", checker.which), ("ScreenClassifier.classify", default.classify)):
            call(frames[0])
            lat: dict[str, list[float]] = {"cold": [], "unchanged": [], "small change": []}
            for i, fr in enumerate(frames):
                checker.reset()
                fresh = fr.copy()
                ImageDraw.Draw(fresh).point((0, 0), fill=(i, 1, 2))  # not the warm-up frame's pixels
                t = time.perf_counter()
                call(fresh)
                lat["cold"].append(time.perf_counter() - t)
                same = fresh.copy()  # a new screenshot object with the same pixels
                t = time.perf_counter()
                call(same)
                lat["unchanged"].append(time.perf_counter() - t)
                changed = fresh.copy()
                ImageDraw.Draw(changed).rectangle((100, 1000, 340, 1030), fill=(i * 10 % 255, 90, 200))
                ImageDraw.Draw(changed).text((110, 1005), f"Saved {i} files", fill=(255, 255, 255))
                t = time.perf_counter()
                call(changed)
                lat["small change"].append(time.perf_counter() - t)
            for kind, v in lat.items():
                summary[(enc, who, kind)] = 1000 * p(v, 50)
                rows.append(
                    {"encoder": enc, "caller": who, "frame": kind, "p50_ms": 1000 * p(v, 50), "p95_ms": 1000 * p(v, 95)}
                )
    for r in rows:
        base = summary[(r["encoder"], "ScreenClassifier.classify", r["frame"])]
        r["speedup_vs_default_classifier"] = base / r["p50_ms"]
    out = result(
        "state_latency",
        "ms (p50, clip, unchanged frame)",
        summary[("clip", "StateChecker.which", "unchanged")],
        "default ScreenClassifier.classify (clip, unchanged frame)",
        summary[("clip", "ScreenClassifier.classify", "unchanged")],
        higher_is_better=False,
        frames=len(frames),
        resolution="1920x1080",
        precision=str(checker.classifier.encoder.channels[0].dtype).removeprefix("torch.")
        if hasattr(checker.classifier.encoder.channels[0], "dtype")
        else "fp32",
        **{
            f"{e}_{'checker' if w.startswith('State') else 'classifier'}_{k.replace(' ', '_')}_p50_ms": v
            for (e, w, k), v in summary.items()
        },
    )
    out["table"] = rows
    out["notes"] = (
        "Both callers use the same loaded encoder and see the same frames; the classifier runs with its default "
        "memory cache (an unchanged frame is found by its pixel hash). clip runs with random weights (none can be "
        "downloaded here), so its scores are near-uniform: clip+text partial reads often land within "
        "StateChecker's confirm_margin and are re-read in full, which is the clip+text small-change p95."
    )
    return out
