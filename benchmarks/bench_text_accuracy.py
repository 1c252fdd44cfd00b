"""text_accuracy: top-1 accuracy and per-class recall of encoder="text" on the labeled dev
set (zero-shot, text examples only), with and without examples_to_exclude."""

from __future__ import annotations

import os

from common import DEV, dev_files, recall_table
from run import HERE, result


def run(quick: bool) -> dict:
    from screenstate import ClassSpec, ScreenClassifier
    from screenstate.batch.metrics import evaluate

    files = dev_files()
    if quick:
        files = files[::3]
    spec = ClassSpec.from_json(DEV / "classes.json")
    cache = os.environ.get("SCREENSTATE_BENCH_CACHE", str(HERE / ".cache"))
    clf = ScreenClassifier(spec, encoder="text", cache=cache)
    labels = [f.parent.name for f in files]
    with_neg = [r.pred for r in clf.classify_batch(files)]
    no_neg_spec = spec.model_dump()
    for c in no_neg_spec["classifier_configs"]:
        c["examples_to_exclude"] = []
    without = [r.pred for r in clf.with_spec(ClassSpec.from_dict(no_neg_spec)).classify_batch(files)]
    m_with = evaluate(labels, with_neg, spec.names)
    m_without = evaluate(labels, without, spec.names)
    out = result(
        "text_accuracy",
        "top-1 accuracy",
        m_with["accuracy"],
        images=len(files),
        classes=len(spec.names),
        accuracy_without_negatives=m_without["accuracy"],
        dataset="screens-dev labeled (classes.json)",
    )
    out["table"] = recall_table(spec.names, recall=m_with, recall_without_negatives=m_without)
    out["confusion"] = m_with["confusion"]
    return out
