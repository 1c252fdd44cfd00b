"""Decisions of two versions of the code on identical stored features (no OCR), to show a
refactor of the decision stage changes nothing when a full ``record_predictions.py check``
cannot run (a busy machine) or when fresh OCR differs by noise from the reference's.

    python benchmarks/decisions_from_cache.py CACHE OUT.json     # with the code of this checkout
    python benchmarks/decisions_from_cache.py --compare A.json B.json

``CACHE`` is a feature cache holding text features of some screens-dev screens (for example
the cache of an interrupted ``record_predictions.py`` run, copied once per version so each
writes its own visual features). Two runs on the cached screens, evidence on every screen:
``text`` (the two-stage rule, text channel) and ``exemplars`` (the few-shot rule: text,
visual and words; each class with 4+ cached screens gets its first 3 as screenshot
exemplars). ``--compare`` prints differences and the largest raw-score difference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import record_predictions as rp


def record(cache: Path) -> dict:
    from screenstate import ClassSpec, ScreenClassifier

    clf = ScreenClassifier(rp.DEV / "classes.json", encoder="text", device="cpu", cache=cache)
    files = [f for f in rp._files() if clf.store.cached(clf.load(f).content_hash) is not None]
    out = {"runs": {"text": {"channels": list(clf.encoder.channel_names), "rows": rp._run(clf, files, 1)}}}
    by_class: dict[str, list[Path]] = {}
    for f in files:
        by_class.setdefault(f.parent.name, []).append(f)
    cfgs = []
    for c in json.loads((rp.DEV / "classes.json").read_text())["classifier_configs"]:
        shots = by_class.get(c["name"], [])
        if len(shots) >= 4:
            c["examples_to_include"] = [*c["examples_to_include"], *({"image": str(p)} for p in shots[:3])]
            cfgs.append(c)
    fs = ScreenClassifier(ClassSpec.from_dict({"classifier_configs": cfgs}), encoder="visual+text", cache=cache)
    held = [f for f in files if f.parent.name in {c["name"] for c in cfgs}]
    out["runs"]["exemplars"] = {"channels": list(fs.encoder.channel_names), "rows": rp._run(fs, held, 1)}
    return out


def main() -> int:
    if sys.argv[1] == "--compare":
        a, b = (json.loads(Path(p).read_text()) for p in sys.argv[2:4])
        rp.EVERY = 2  # rows by file name
        diffs = rp.compare(a, b)
        for name, run in b["runs"].items():
            pairs = zip(a["runs"][name]["rows"], run["rows"], strict=True)
            worst = max((abs(x["raw"][k] - y["raw"][k]) for x, y in pairs for k in x["raw"]), default=0.0)
            print(f"{name}: {len(run['rows'])} screens, evidence on each, largest raw-score difference {worst:.3g}")
        print("\n".join(diffs[:50]) or "identical")
        return 1 if diffs else 0
    Path(sys.argv[2]).write_text(json.dumps(record(Path(sys.argv[1]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
