"""suggest_clustering: how well `screenstate suggest` recovers the states of labeled
frames, as the adjusted Rand index (1 = the labels exactly, 0 = chance) between clusters
and labels. Sets: the screens-dev recording (labels.csv, `unknown` frames count as one
more state), the screens-dev labeled screenshots taken as one recording, and every
held-out set of other software (see bench_fewshot.heldout_sets). Each set is clustered
with the default cut (best silhouette), with --max-states = its number of states,
and with a sweep of fixed similarity thresholds (for comparison)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from bench_fewshot import heldout_sets
from run import DEV, HERE, result

SWEEP = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)


def _labeled(root: Path) -> tuple[list[Path], list[str]]:
    if (root / "labels.csv").is_file():
        with (root / "labels.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        return [root / r["frame"] for r in rows], [r["state"] for r in rows]
    files = sorted(p for p in root.glob("*/*.png") if p.parent.name != "recording")
    return files, [p.parent.name for p in files]


def run(quick: bool) -> dict:
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    from screenstate import ScreenClassifier
    from screenstate.embeddings.cache import FeatureCache
    from screenstate.suggest import cluster_similarity, frame_similarity

    cache = os.environ.get("SCREENSTATE_BENCH_CACHE", str(HERE / ".cache"))
    placeholder = {"classifier_configs": [{"name": "screen", "examples_to_include": ["a screen"]}]}
    clf = ScreenClassifier(placeholder, encoder="visual+text", cache=FeatureCache(cache))
    sets = {"screens-dev recording": DEV / "recording", "screens-dev labeled": DEV, **heldout_sets()}
    if quick:
        sets = {"screens-dev recording": DEV / "recording"}
    table = []
    for name, root in sets.items():
        files, labels = _labeled(root)
        feats = clf.features([clf.load(f) for f in files])
        sim = frame_similarity(feats)
        n_states = len(set(labels))
        row: dict = {"set": name, "frames": len(files), "states": n_states}
        default = cluster_similarity(sim)
        row["ari"] = round(float(adjusted_rand_score(labels, default)), 4)
        row["clusters"] = int(default.max()) + 1
        row["ari_max_states"] = round(float(adjusted_rand_score(labels, cluster_similarity(sim, n_states, 1.0))), 4)
        row["sweep"] = {
            str(t): round(float(adjusted_rand_score(labels, cluster_similarity(sim, None, t))), 4) for t in SWEEP
        }
        table.append(row)
    out = result(
        "suggest_clustering",
        "adjusted Rand index (screens-dev recording, default cut)",
        table[0]["ari"],
        cut="best silhouette (no threshold)",
        encoder="visual+text",
        datasets=list(sets),
    )
    out["table"] = table
    out["mean_ari"] = round(float(np.mean([r["ari"] for r in table])), 4)
    return out
