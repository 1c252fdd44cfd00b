"""fewshot_accuracy: top-1 on the labeled dev set with k = 1, 3, 5 image exemplars per
class (the first k screenshots of each class, left out of the evaluated images), for
exemplars alone and for the dev text prompts plus exemplars (encoder="text")."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from common import DEV, dev_files
from run import HERE, result


def run(quick: bool) -> dict:
    from screenstate import ClassSpec, ScreenClassifier
    from screenstate.batch.metrics import evaluate

    base = json.loads((DEV / "classes.json").read_text())
    names = [c["name"] for c in base["classifier_configs"]]
    files = dev_files()
    by_class = {n: [f for f in files if f.parent.name == n] for n in names}
    cache = os.environ.get("SCREENSTATE_BENCH_CACHE", str(HERE / ".cache"))
    clf = ScreenClassifier(ClassSpec.from_dict(base), encoder="text", cache=cache)
    rows = []
    for k in (1, 3, 5):
        held_out = [f for n in names for f in by_class[n][k:]]
        labels = [f.parent.name for f in held_out]
        for mode in ("exemplars only", "text prompts + exemplars"):
            cfgs = []
            for c in base["classifier_configs"]:
                ex = [{"image": str(p)} for p in by_class[c["name"]][:k]]
                text = c["examples_to_include"] if mode != "exemplars only" else []
                neg = c["examples_to_exclude"] if mode != "exemplars only" else []
                cfgs.append({"name": c["name"], "examples_to_include": [*text, *ex], "examples_to_exclude": neg})
            with tempfile.TemporaryDirectory() as tmp:
                spec_path = Path(tmp) / "c.json"
                spec_path.write_text(json.dumps({"classifier_configs": cfgs}))
                preds = [r.pred for r in clf.with_spec(ClassSpec.from_json(spec_path)).classify_batch(held_out)]
            m = evaluate(labels, preds, names)
            rows.append({"k": k, "examples": mode, "accuracy": m["accuracy"], "evaluated": len(held_out)})
            if quick:
                break
    k3 = [r for r in rows if r["k"] == 3]
    out = result(
        "fewshot_accuracy",
        "top-1 accuracy (k=3, text prompts + exemplars)",
        k3[-1]["accuracy"],
        encoder="text",
        dataset="screens-dev labeled",
    )
    out["table"] = rows
    return out
