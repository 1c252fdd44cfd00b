"""heldout_dialog_accuracy: encoder="text" on GTK dialogs we render ourselves with texts
of our own (benchmarks/render_heldout_dialogs.py), classified against the dev
classes.json over all 15 states: does dev accuracy on dialogs carry over to new texts?"""

from __future__ import annotations

import os
from pathlib import Path

from common import recall_table, without_negatives
from run import DEV, HERE, result


def run(quick: bool) -> dict:
    from render_heldout_dialogs import render

    from screenstate import ClassSpec, ScreenClassifier
    from screenstate.batch.metrics import evaluate

    root = Path(os.environ.get("SCREENSTATE_HELDOUT", HERE / ".heldout"))
    if not any(root.glob("*/*.png")):
        render(root)
    files = sorted(root.glob("*/*.png"))
    if quick:
        files = files[::3]
    dev_files = sorted(p for p in DEV.glob("*/*.png") if p.parent.name != "recording")
    spec = ClassSpec.from_json(DEV / "classes.json")
    clf = ScreenClassifier(spec, encoder="text", cache=str(HERE / ".cache"))
    labels = [f.parent.name for f in files]
    preds = [r.pred for r in clf.classify_batch(files)]
    m = evaluate(labels, preds, spec.names)
    no_neg = [r.pred for r in clf.with_spec(without_negatives(spec)).classify_batch(files)]
    states = sorted(set(labels))
    dev_dialogs = [f for f in dev_files if f.parent.name in states]
    dev_m = evaluate([f.parent.name for f in dev_dialogs], [r.pred for r in clf.classify_batch(dev_dialogs)], states)
    out = result(
        "heldout_dialog_accuracy",
        "top-1 accuracy",
        m["accuracy"],
        images=len(files),
        states=len(states),
        accuracy_without_negatives=evaluate(labels, no_neg, spec.names)["accuracy"],
        dev_accuracy_same_states=dev_m["accuracy"],
        dataset="zenity dialogs rendered by benchmarks/render_heldout_dialogs.py (our texts), dev classes.json",
    )
    out["table"] = recall_table(states, recall=m, dev_recall=dev_m)
    out["notes"] = (
        "Texts written for this check (none from the dev set), zenity 3.44 under Xvfb + openbox, light and "
        "dark Adwaita, 0-2 X11 programs behind; render with `python benchmarks/render_heldout_dialogs.py`."
    )
    out["errors"] = [{"image": f.name, "label": t, "pred": p} for f, t, p in zip(files, labels, preds) if t != p]
    return out
