"""state_agreement: on the dev recording, StateChecker.which (no min_score) against the
batch classifier's prediction per frame (same encoder, text); then a global min_score
chosen on the labeled dev set and how many recording frames labeled `unknown` it
reports as None (and how many known frames it wrongly rejects)."""

from __future__ import annotations

import csv
import os

from common import DEV, dev_files, recording_files
from run import HERE, result


def run(quick: bool) -> dict:
    from screenstate import ClassSpec, ScreenClassifier, StateChecker

    spec = ClassSpec.from_json(DEV / "classes.json")
    cache = os.environ.get("SCREENSTATE_BENCH_CACHE", str(HERE / ".cache"))
    clf = ScreenClassifier(spec, encoder="text", cache=cache)
    frames = recording_files()
    labels = {r["frame"]: r["state"] for r in csv.DictReader(open(DEV / "recording" / "labels.csv"))}
    batch = clf.classify_batch(frames)
    checker = StateChecker(spec, encoder=clf.encoder)
    live = [checker.which(f) for f in frames]
    agree = sum(b.pred == s.best for b, s in zip(batch, live))
    # min_score from the labeled dev set: the 10th percentile raw score of correct predictions
    dev = dev_files()
    dev_res = clf.classify_batch(dev)
    correct = sorted(r.raw_scores[r.pred] for r, f in zip(dev_res, dev) if r.pred == f.parent.name)
    threshold = correct[int(0.1 * len(correct))]
    strict = StateChecker(spec, encoder=clf.encoder, min_score=threshold)
    states = [strict.which(f).state for f in frames]
    unknown = [f.name for f in frames if labels[f.name] == "unknown"]
    none_on_unknown = sum(s is None for f, s in zip(frames, states) if labels[f.name] == "unknown")
    none_on_known = sum(s is None for f, s in zip(frames, states) if labels[f.name] != "unknown")
    hows = [s.how for s in live]
    return result(
        "state_agreement",
        "frames where which() == batch prediction",
        agree,
        frames=len(frames),
        partial_frames=hows.count("partial"),
        reused_frames=hows.count("reused"),
        min_score=threshold,
        unknown_frames=len(unknown),
        none_on_unknown=none_on_unknown,
        none_on_known_frames=none_on_known,
    )
