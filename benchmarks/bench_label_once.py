"""label_once: the record-once workflow as a user runs it. Session A of a recording is
clustered with ``suggest``; a simulated user names every cluster by its majority label
(clusters whose majority is ``unknown``, the plain desktop, stay unnamed) with ``label
--cluster`` into a copy of the dev class file, which already has text descriptions of all
15 states; the class file is then used, as written, to classify session B (another
session of the same software) and a video of session A (same screens, a moving cursor,
H.264).

Reported per check set: top-1 over every frame (an ``unknown`` frame is right only when it
gets no state: "none of the above"), top-1 over frames of a named state (``pred``, as
before any min_score), the share of ``unknown`` frames given no state, and the confusions
(label -> state). Also the clusters' adjusted Rand index and purity against session A's
labels, and how many clusters were named. On held-out sets, every wrong frame of session B
is also corrected once as in the review page (then undone): how many come out right and
how the accuracy of the other frames changes (``one_correction_session_b``).

Session A is named two ways (``NAMINGS``): every cluster with its exemplars as ``suggest``
keeps them (up to 3: the few-shot rule), and with one exemplar per cluster (the README
walkthrough's case: the two-stage rule). Each check is run with the class file as named
(``as_named``) and after ``label --min-scores`` wrote the proposed min_score per class
(``min_scores``, screenstate/min_scores.py, from session A as named).
``LABEL_ONCE_SETS=qt-featherpad`` runs one set (choosing on dev without the others).

Sets: every ``benchmarks/heldout/recordings/<software>/`` (session_a/, session_b/,
session_c/ and session_d/ where there are (qt-featherpad's: dialogs inside a large editor,
dialogs against its edges; dev), session_a.mp4 + .csv, the video checked frame after frame
by a StateChecker as a replay would; see its PROVENANCE.md), and screens-dev side by side
(its one recording labelled; checked on the recording itself and on the 150 labelled
screenshots of other sessions). Where a held-out screenshot set shows the recording's
toolkit (``SAME_TOOLKIT``: desktop-tkqt's Tk and Qt dialogs in other sessions, themes and
screen sizes), those screenshots are checked too (``other_sessions_screenshots``; never
chosen on). ``value``: session B over the held-out recordings; qt-featherpad, on which the
workflow's rules are chosen, is dev (``dev_value``).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from run import DEV, HERE, result

RECORDINGS = HERE / "heldout" / "recordings"
#: recordings the workflow's rules are chosen on (their sessions B-D are dev)
DEV_RECORDINGS = ("qt-featherpad",)
#: held-out screenshots of a recording's toolkit in other sessions: (set, file name prefix)
SAME_TOOLKIT = {"tk-xedit": ("desktop-tkqt", "tk_"), "qt-featherpad": ("desktop-tkqt", "qt_")}


def _labels(root: Path) -> tuple[list[Path], list[str]]:
    with (root / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    return [root / r["frame"] for r in rows], [r["state"] for r in rows]


def _screenshots(root: Path) -> tuple[list[Path], list[str]]:
    files = sorted(p for p in root.glob("*/*.png") if p.parent.name != "recording")
    return files, [p.parent.name for p in files]


def _video(path: Path) -> tuple[list, list[str]]:
    import av

    with path.with_suffix(".csv").open() as fh:
        labels = [r["state"] for r in csv.DictReader(fh)]
    with av.open(str(path)) as c:
        frames = [f.to_image() for f in c.decode(video=0)]
    if len(frames) != len(labels):
        raise RuntimeError(f"{path}: {len(frames)} decoded frames, {len(labels)} labels")
    return frames, labels


def _score(got: list[str | None], preds: list[str], labels: list[str]) -> dict:
    n = len(labels)
    right = sum((g is None) if lab == "unknown" else (g == lab) for g, lab in zip(got, labels))
    named = [(p, lab) for p, lab in zip(preds, labels) if lab != "unknown"]
    named_state = [(g, lab) for g, lab in zip(got, labels) if lab != "unknown"]
    unknown = [g for g, lab in zip(got, labels) if lab == "unknown"]
    conf = Counter(f"{lab} -> {g or 'none'}" for g, lab in zip(got, labels) if (g or "unknown") != lab)
    return {
        "frames": n,
        "top1_all": round(right / n, 4),
        "top1_named_pred": round(sum(p == lab for p, lab in named) / max(len(named), 1), 4),
        "top1_named_state": round(sum(g == lab for g, lab in named_state) / max(len(named_state), 1), 4),
        "unknown_frames": len(unknown),
        "unknown_none": round(sum(g is None for g in unknown) / len(unknown), 4) if unknown else None,
        "confusions": dict(conf.most_common(8)),
    }


def label_once(session_a: Path, classes_src: Path, work: Path, cache: str, exemplars: int = 0) -> tuple[Path, dict]:
    """suggest + label --cluster by majority label; returns the class file and what happened.
    ``exemplars``: how many each cluster keeps (0: suggest's own ``EXEMPLARS``)."""
    from sklearn.metrics import adjusted_rand_score

    import screenstate.suggest as suggest
    from screenstate.suggest import label_cluster, suggest_states, write_suggestions

    files, labels = _labels(session_a)
    label_of = dict(zip(files, labels))
    t0 = time.perf_counter()
    kept = suggest.EXEMPLARS
    suggest.EXEMPLARS = exemplars or kept
    try:
        s = suggest_states(session_a, cache=cache)
    finally:
        suggest.EXEMPLARS = kept
    t_suggest = time.perf_counter() - t0
    states = work / "states"
    write_suggestions(s, states)
    classes = work / "classes.json"
    shutil.copyfile(classes_src, classes)
    named, unnamed, t_label = [], [], 0.0
    pure = 0
    for c in s.clusters:
        votes = Counter(label_of[f] for f in c.frames)
        majority, count = votes.most_common(1)[0]
        pure += count
        if majority == "unknown":
            unnamed.append(len(c.frames))
            continue
        t0 = time.perf_counter()
        label_cluster(classes, states / f"cluster_{c.id:02d}", majority)
        t_label += time.perf_counter() - t0
        named.append(majority)
    clusters = s.labels()
    ari = adjusted_rand_score(labels, [clusters[f] for f in files])
    info = {
        "frames": len(files),
        "states": len(set(labels)),
        "clusters": len(s.clusters),
        "ari": round(float(ari), 4),
        "purity": round(pure / len(files), 4),
        "named_clusters": len(named),
        "named_states": len(set(named)),
        "unnamed_clusters_frames": unnamed,
        "suggest_s": round(t_suggest, 2),
        "label_cluster_s": round(t_label / max(len(named), 1), 3),
    }
    return classes, info


#: how the simulated user names session A: every cluster with ``label --cluster`` as suggest
#: writes it (up to 3 exemplars: the few-shot rule), and with one exemplar per cluster (the
#: README walkthrough's case: the two-stage rule, no learned none of the above)
NAMINGS = {"clusters": 0, "one_exemplar": 1}


def _floats(values) -> list[float]:
    import numpy as np

    return [float(v) for v in np.asarray(values, dtype=np.float64)]


def _with_min_scores(classes: Path, states: Path, clf) -> tuple[Path, dict]:
    """A copy of the class file with the proposed min_score per class written (``label
    --min-scores``), and the proposals."""
    from screenstate.min_scores import propose_min_scores, write_min_scores

    proposals = propose_min_scores(classes, states, clf)
    out = classes.with_name("classes_min_scores.json")
    shutil.copyfile(classes, out)
    write_min_scores(out, proposals)
    return out, {p.name: p.min_score if p.min_score is not None else p.why for p in proposals if p.own_frames}


def _classify(clf, items: list, labels: list[str]) -> dict:
    feats = clf.features([clf.load(x) for x in items])  # read once: for the results and each source
    res = clf.classify_features(feats)
    out = _score([r.state for r in res], [r.pred for r in res], labels)
    named = [k for k, lab in enumerate(labels) if lab != "unknown"]
    if hasattr(clf.rule, "per_source") and named:  # few-shot: which evidence carries over to this check set
        out["source_top1_named"] = {
            src: _top1(clf.names, scores, labels, named)
            for src, scores in clf.rule.per_source(clf.relevance(feats)).items()
        }
    return out


def _top1(names: list[str], scores, labels: list[str], rows: list[int]) -> float:
    """Top-1 of one source's class scores (NaN: no opinion) on ``rows``."""
    import numpy as np

    best = np.nan_to_num(scores, nan=-1.0).argmax(1)
    return round(float(np.mean([names[int(best[k])] == labels[k] for k in rows])), 4)


def _check_stream(classes: Path, frames: list, labels: list[str]) -> dict:
    """Frames in order through a StateChecker (change gating: a moving cursor re-reads only
    the tiles it touched), as a replay loop sees a screen."""
    from screenstate import StateChecker

    checker = StateChecker(classes, encoder="auto")
    res = [checker.which(f) for f in frames]
    out = _score([r.state for r in res], [r.best for r in res], labels)
    out["how"] = dict(Counter(r.how for r in res))
    return out


def one_correction(classes: Path, recording: Path, cache: str, work: Path, limit: int = 20) -> dict:
    """Corrections only help: each wrong frame of ``recording`` (up to ``limit``) corrected
    once as in the review page (its label; ``unknown`` as none of the above, a negative of
    what it got), on a copy of the class file, then undone. Reports how many corrected
    frames came out right and the accuracy on the *other* labelled frames before and after
    (the worst and mean change; never below zero is the goal)."""
    from screenstate.batch.metrics import score_labels
    from screenstate.review.session import ReviewSession

    shutil.copytree(classes.parent, work, ignore=shutil.ignore_patterns("states"))
    session = ReviewSession(recording, work / classes.name, encoder="auto", cache=cache)

    def others(k: int) -> float:
        fs = session.frames
        a = score_labels(
            [f.truth if f.index != k else None for f in fs], [f.result.state if f.result else None for f in fs]
        )
        return a.accuracy if a is not None else float("nan")

    start = session.accuracy()
    wrong = [f for f in session.frames if f.truth is not None and f.result is not None and f.state_label != f.truth]
    changes, fixed, worse = [], 0, []
    for f in wrong[:limit]:
        before = others(f.index)
        session.label(f.index, None if f.truth == "unknown" else f.truth, negative=True)
        after = others(f.index)
        fixed += session.frames[f.index].state_label == f.truth
        changes.append(after - before)
        if after < before:
            worse.append(f"{f.path.name} ({f.truth}): {before:.3f} -> {after:.3f}")
        session.undo()
    return {
        "accuracy": None if start is None else start.as_dict() | {"wrong": len(start.wrong)},
        "corrections": len(changes),
        "corrected_frame_right": fixed,
        "others_change_worst": round(min(changes), 4) if changes else None,
        "others_change_mean": round(sum(changes) / len(changes), 4) if changes else None,
        "made_others_worse": worse,
    }


def run(quick: bool) -> dict:
    from screenstate import ScreenClassifier
    from screenstate.embeddings.cache import FeatureCache

    cache = os.environ.get("SCREENSTATE_BENCH_CACHE", str(HERE / ".cache"))
    classes_src = DEV / "classes.json"
    table = []
    with tempfile.TemporaryDirectory(prefix="label-once-") as tmp:
        sets = sorted(d for d in RECORDINGS.iterdir() if (d / "session_a" / "labels.csv").is_file())
        jobs: list[tuple[str, Path, dict[str, tuple]]] = []
        for d in sets:
            checks: dict[str, tuple] = {"session_b": _labels(d / "session_b")}
            for extra in ("session_c", "session_d"):  # qt-featherpad's dev sessions
                if (d / extra / "labels.csv").is_file():
                    checks[extra] = _labels(d / extra)
            if d.name in SAME_TOOLKIT:
                shots, prefix = SAME_TOOLKIT[d.name]
                items = sorted((HERE / "heldout" / shots).glob(f"*/{prefix}*.png"))
                checks["other_sessions_screenshots"] = (items, [p.parent.name for p in items])
            video = d / "session_a.mp4"
            if video.is_file() and not quick:
                checks["session_a_video"] = _video(video)
            checks["session_a_itself"] = _labels(d / "session_a")
            jobs.append((d.name, d / "session_a", checks))
        if not quick and os.environ.get("LABEL_ONCE_DEV", "1") != "0":  # LABEL_ONCE_DEV=0: held-out only
            jobs.append(
                (
                    "screens-dev",
                    DEV / "recording",
                    {"recording_itself": _labels(DEV / "recording"), "labelled_screenshots": _screenshots(DEV)},
                )
            )
        only = os.environ.get("LABEL_ONCE_SETS")  # e.g. qt-featherpad: choose on dev without the others
        if only:
            jobs = [j for j in jobs if j[0] in only.split(",")]
        for name, session_a, checks in jobs:
            row = {"set": name}
            for naming, exemplars in NAMINGS.items():
                work = Path(tmp) / name / naming
                work.mkdir(parents=True)
                classes, info = label_once(session_a, classes_src, work, cache, exemplars)
                clf = ScreenClassifier(classes, encoder="auto", cache=FeatureCache(cache))
                part: dict = {
                    "label": info,
                    "encoder": "+".join(clf.encoder.channel_names),
                    "rule": type(clf.rule).__name__
                    + (f" (its session: {type(clf.replay.rule).__name__})" if clf.replay is not None else ""),
                }
                part["min_scores"] = {n: m for n, m in zip(clf.names, _floats(clf.min_scores)) if m == m}
                proposed = _with_min_scores(classes, work / "states", clf)
                part["proposed_min_scores"] = proposed[1]
                for variant, cf in (("as_named", classes), ("min_scores", proposed[0])):
                    vclf = clf.with_spec(cf)
                    part[variant] = {}
                    for check, (items, labels) in checks.items():
                        if check.endswith("_video"):  # as a replay checks it: frame after frame, change-gated
                            part[variant][check] = _check_stream(cf, items, labels)
                        else:
                            part[variant][check] = _classify(vclf, items, labels)
                row[naming] = part
                if naming == "clusters":
                    row["class_file"] = json.loads(classes.read_text())
            if (session_a.parent / "session_b" / "labels.csv").is_file():  # held-out: correct session B's frames
                row["one_correction_session_b"] = one_correction(
                    Path(tmp) / name / "clusters" / "classes.json",  # the few-shot class file
                    session_a.parent / "session_b",
                    cache,
                    Path(tmp) / name / "corr",
                )
            table.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "class_file"}), flush=True)  # progress

    def mean_b(rows: list[dict]) -> float:
        tops = [r["clusters"]["as_named"]["session_b"]["top1_all"] for r in rows]
        return round(sum(tops) / len(tops), 4) if tops else float("nan")

    recordings = [r for r in table if r["set"] != "screens-dev"]
    value = mean_b([r for r in recordings if r["set"] not in DEV_RECORDINGS])
    out = result(
        "label_once",
        "top-1 on session B (unknown frames right only with no state), mean over the held-out recordings",
        value,
        dev_value=mean_b([r for r in recordings if r["set"] in DEV_RECORDINGS]),
        workflow="suggest -> label --cluster by majority (unknown clusters unnamed) -> classify",
        class_file="screens-dev classes.json (text descriptions of 15 states) + the named clusters",
        datasets=[r["set"] for r in table],
    )
    for r in table:
        r.pop("class_file")
    #: every set side by side: top-1 over all frames per check and variant (held-out recordings and dev)
    out["summary"] = {
        r["set"]: {
            f"{naming}/{variant}/{k}": v["top1_all"]
            for naming in NAMINGS
            for variant in ("as_named", "min_scores")
            for k, v in r[naming][variant].items()
        }
        for r in table
    }
    #: one row per set, naming, class file and check (BENCHMARKS.md); everything else in ``details``
    out["table"] = [
        {
            "set": r["set"],
            "naming": naming,
            "rule": r[naming]["rule"],
            "class_file": variant,
            "check": check,
            "frames": v["frames"],
            "top1_all": v["top1_all"],
            "top1_named_state": v["top1_named_state"],
            "top1_named_pred": v["top1_named_pred"],
            "unknown_none": v["unknown_none"],
            "confusions": ", ".join(f"{k}: {n}" for k, n in list(v["confusions"].items())[:4]),
        }
        for r in table
        for naming in NAMINGS
        for variant in ("as_named", "min_scores")
        for check, v in r[naming][variant].items()
    ]
    out["notes"] = (
        "top1_all: every frame (an unknown frame is right only with no state); top1_named_state / "
        "top1_named_pred: frames of a named state, by state / by pred (before any threshold); unknown_none: "
        "share of unknown frames given no state. naming clusters: every cluster named with label --cluster "
        "(up to 3 exemplars each: the few-shot rule); one_exemplar: one exemplar per cluster (the two-stage "
        "rule, as in the README walkthrough). class_file min_scores: after label --min-scores (proposals in "
        "details). The one-correction results (clusters naming) are in details."
    )
    out["notes"] += " " + summary_notes(table)
    out["details"] = table
    return out


def summary_notes(table: list[dict]) -> str:
    """The one-correction results and each evidence source's top-1 on session B, in words
    (BENCHMARKS.md shows ``table`` and ``notes``)."""
    parts = []
    for r in table:
        oc = r.get("one_correction_session_b")
        if oc and not oc["corrections"]:
            parts.append(f"{r['set']}: no wrong frame to correct")
        elif oc:
            parts.append(
                f"{r['set']}: {oc['corrected_frame_right']}/{oc['corrections']} corrected frames right, other frames "
                f"worst {oc['others_change_worst']:+.3f}, mean {oc['others_change_mean']:+.3f}"
            )
    out = (
        "One correction of each wrong session-B frame in the review page (default reach), then undone: "
        + "; ".join(parts)
        + "."
    )
    src = []
    for r in table:
        for check, v in r["clusters"]["as_named"].items():
            if v.get("source_top1_named") and check in ("session_b", "labelled_screenshots"):
                src.append(
                    f"{r['set']} {check}: " + ", ".join(f"{k} {x:.2f}" for k, x in v["source_top1_named"].items())
                )
    if src:
        out += " Each evidence source alone (clusters naming, top-1 of pred on named frames): " + "; ".join(src) + "."
    return out
