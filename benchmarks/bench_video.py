"""video_throughput: a screen recording as users capture it, classified with change gating
against classifying every decoded frame (the per-frame baseline), in the same run.

The recording is built here: screens-dev stills (one per class, round robin), each held
1-4 s at 10 fps on a 1600x900 screen while a drawn cursor moves every frame (so no two
frames are identical), encoded as H.264 (x264 CRF 23, keyframe every 2.5 s, B-frames)
with PyAV. Measured per encoder (text channel; CLIP ViT-B-32 with random weights):
video frames/s gated and per frame (decoding included), per-frame agreement between the
two, accuracy against the stills' labels, the time to classify just the distinct stills
(what a perfect de-duplication would cost), and segments found vs true state runs.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from pathlib import Path

from common import dev_files
from run import DEV, result

SIZE = (1600, 900)
FPS = 10


def screen_of(path: Path) -> object:
    """A still fitted onto a SIZE screen (dark desktop around it)."""
    from PIL import Image

    src = Image.open(path).convert("RGB")
    src.thumbnail(SIZE)
    screen = Image.new("RGB", SIZE, (40, 44, 52))
    screen.paste(src, ((SIZE[0] - src.size[0]) // 2, (SIZE[1] - src.size[1]) // 2))
    return screen


def write_recording(
    path: Path, stills: list[object], labels_per_still: list[str], seed: int = 0, crossfade: int = 0
) -> tuple[list[str], list[float]]:
    """Hold each still 1-4 s at FPS with a moving cursor (and ``crossfade`` blended frames
    between stills, as window animations make); returns (label per frame, holds)."""
    from PIL import Image

    from screenstate.batch.video_write import draw_cursor, write_video

    rng = random.Random(seed)
    holds = [rng.choice([1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]) for _ in stills]
    frames, labels = [], []
    i = 0
    prev = None
    for still, label, hold in zip(stills, labels_per_still, holds):
        n = int(round(hold * FPS))
        for j in range(n):
            img = still
            if prev is not None and j < crossfade:
                img = Image.blend(prev, still, (j + 1) / (crossfade + 1))  # type: ignore[arg-type]
            # the cursor keeps moving: a Lissajous path, ~10-25 px per frame
            x = int(SIZE[0] / 2 + 0.4 * SIZE[0] * math.sin(i / 23))
            y = int(SIZE[1] / 2 + 0.4 * SIZE[1] * math.sin(i / 17 + 1))
            frames.append((draw_cursor(img, x, y), i / FPS))  # type: ignore[arg-type]
            labels.append(label)
            i += 1
        prev = still
    write_video(path, frames, options={"crf": "23", "g": str(int(2.5 * FPS)), "bf": "2"})
    return labels, holds


def build_recording(path: Path, n_stills: int, seed: int = 0) -> tuple[list[str], list[float], list[object]]:
    """The benchmark's recording from screens-dev; returns (label per frame, holds, stills)."""
    by_class: dict[str, list[Path]] = {}
    for p in dev_files():
        by_class.setdefault(p.parent.name, []).append(p)
    classes = sorted(by_class)
    stills, labels_per_still = [], []
    for k in range(n_stills):
        cls = classes[(k * 7) % len(classes)]  # a stride so consecutive stills differ in class
        stills.append(screen_of(by_class[cls][k % len(by_class[cls])]))
        labels_per_still.append(cls)
    labels, holds = write_recording(path, stills, labels_per_still, seed)
    return labels, holds, stills


def _measure(
    clf: object, video: Path, stills: list[object], labels: list[str], holds: list[float], gate: object
) -> dict:
    from screenstate.batch.segments import find_segments
    from screenstate.batch.sequence import gate_items, gate_video

    t = time.perf_counter()
    gated = gate_video(clf, video, gate)  # type: ignore[arg-type]
    # each distinct feature set is classified once and fanned out (as classify-directory does)
    distinct = [r.pred for r in clf.classify_features(gated.features)]  # type: ignore[attr-defined]
    gated_preds = [distinct[i] for i in gated.feature_ids]
    t_gated = time.perf_counter() - t
    t = time.perf_counter()
    plain = gate_video(clf, video, None)  # type: ignore[arg-type]
    plain_preds = [r.pred for r in clf.classify_features(plain.features)]  # type: ignore[attr-defined]
    t_plain = time.perf_counter() - t
    t = time.perf_counter()
    still_chunk = gate_items(clf, ((None, None, s, None) for s in stills), None)  # type: ignore[arg-type, misc]
    still_preds = [r.pred for r in clf.classify_features(still_chunk.features)]  # type: ignore[attr-defined]
    t_stills = time.perf_counter() - t
    # what classifying the source stills gives each frame (accuracy a video must not lose)
    per_frame_still = [p for p, h in zip(still_preds, holds) for _ in range(int(round(h * FPS)))]
    n = len(labels)
    times = [i / FPS for i in range(n)]
    true_runs = len(find_segments(labels, times, [None] * n))
    return {
        "frames": n,
        "gated_fps": n / t_gated,
        "per_frame_fps": n / t_plain,
        "speedup": t_plain / t_gated,
        "agreement": sum(a == b for a, b in zip(gated_preds, plain_preds)) / n,
        "accuracy_gated": sum(a == b for a, b in zip(gated_preds, labels)) / n,
        "accuracy_per_frame": sum(a == b for a, b in zip(plain_preds, labels)) / n,
        "accuracy_source_stills": sum(a == b for a, b in zip(per_frame_still, labels)) / n,
        "gated_seconds": t_gated,
        "per_frame_seconds": t_plain,
        "distinct_stills_seconds": t_stills,
        "gated_vs_stills_time": t_gated / t_stills,
        "gate_counts": gated.counts,
        "true_runs": true_runs,
        "segments_found": len(find_segments(gated_preds, times, [None] * n)),
    }


def run(quick: bool) -> dict:
    from screenstate import ScreenClassifier
    from screenstate.embeddings.factory import EncoderOptions
    from screenstate.embeddings.gating import GateOptions

    n_stills = 5 if quick else 8
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "screen_recording.mp4"
        labels, holds, stills = build_recording(video, n_stills)
        size_mb = video.stat().st_size / 1e6
        gate = GateOptions.for_video()
        text = ScreenClassifier(DEV / "classes.json", encoder="text", memory_cache=0)
        text_m = _measure(text, video, stills, labels, holds, gate)
        clip = ScreenClassifier(
            DEV / "classes.json",
            encoder="clip",
            options=EncoderOptions(clip_pretrained="random"),
            memory_cache=0,
        )
        clip_m = _measure(clip, video, stills, labels, holds, gate)
    return result(
        "video_throughput",
        "video frames/s (text channel, change-gated)",
        text_m["gated_fps"],
        baseline_name="text channel, every decoded frame",
        baseline_value=text_m["per_frame_fps"],
        dataset=f"screens-dev stills ({n_stills}, one class each, round robin) held {min(holds)}-{max(holds)} s "
        f"at {FPS} fps, {SIZE[0]}x{SIZE[1]}, moving cursor, H.264 CRF 23 ({size_mb:.1f} MB)",
        gate=str(gate),
        text=text_m,
        clip_random_weights=clip_m,
        note="Both modes decode the video in the same process, one after the other; the machine is "
        "shared (2 cores), so compare ratios within this run.",
    )
