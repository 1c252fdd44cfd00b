"""fewshot_accuracy: top-1 with k = 1, 3, 5 screenshot exemplars per class, per channel
(text, visual) and fused (visual+text), exemplars alone and with the class file's text
prompts, on screens-dev and on every held-out set of other software found under
``SCREENSTATE_HELDOUT_SETS`` (default ``benchmarks/heldout/``: ``<set>/<state>/*.png``, an
optional ``<set>/classes.json`` with the text prompts, else the dev class file's prompts of
the set's states).

Exemplars are k screenshots of each class, taken in turn from each class's sorted files
(split s uses files s*k .. s*k+k-1; up to ``SPLITS`` splits, averaged); every other
screenshot of the set is evaluated. Scores come from the classifier's own rule
(``ScreenClassifier.rule``: with exemplars, the few-shot rule of
``classifier/fewshot.py``) on the channels of each row. Also reports per-class recall of the icon-only dialog
states (error / warning / question) at k = 3 with text prompts, fused."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from run import DEV, HERE, ROOT, result

#: exemplar splits averaged per k (split s uses each class's files s*k .. s*k+k-1)
SPLITS = 3
KS = (1, 3, 5)
ICON_STATES = ("error_dialog", "warning_dialog", "question_dialog")


def heldout_sets() -> dict[str, Path]:
    """Held-out sets of other software: directories of ``<state>/*.png``."""
    base = Path(os.environ.get("SCREENSTATE_HELDOUT_SETS", ROOT / "benchmarks" / "heldout"))
    if not base.is_dir():
        return {}
    return {d.name: d for d in sorted(base.iterdir()) if d.is_dir() and any(d.glob("*/*.png"))}


def _set_files(root: Path) -> dict[str, list[Path]]:
    by_class: dict[str, list[Path]] = {}
    for p in sorted(root.glob("*/*.png")):
        if p.parent.name != "recording":
            by_class.setdefault(p.parent.name, []).append(p)
    return by_class


def evaluate_set(clf, root: Path, quick: bool) -> list[dict]:  # type: ignore[no-untyped-def]
    """Rows of accuracy for one labeled set."""
    from screenstate import ClassSpec
    from screenstate.embeddings.features import ScreenFeatures

    by_class = _set_files(root)
    names = sorted(by_class)
    # text prompts: the set's own classes.json, else the dev class file's (held-out sets are
    # labeled with dev state names and are meant to be classified with its descriptions)
    prompt_file = root / "classes.json" if (root / "classes.json").is_file() else DEV / "classes.json"
    prompts = {c["name"]: c for c in json.loads(prompt_file.read_text())["classifier_configs"] if c["name"] in names}
    files = [f for n in names for f in by_class[n]]
    feats = clf.features([clf.load(f) for f in files])
    pos = {f: i for i, f in enumerate(files)}
    rows = []
    for k in KS if not quick else (3,):
        n_splits = min(SPLITS, min(len(v) for v in by_class.values()) // k - (1 if k > 1 else 0))
        if n_splits < 1:
            continue
        modes = ["exemplars only"] + (["text prompts + exemplars"] if prompts else [])
        for mode in modes:
            correct: dict[str, dict[str, list[int]]] = {}
            for s in range(n_splits):
                ex = {n: by_class[n][s * k : (s + 1) * k] for n in names}
                cfgs = []
                for n in names:
                    text = prompts.get(n, {}).get("examples_to_include", []) if mode != "exemplars only" else []
                    neg = prompts.get(n, {}).get("examples_to_exclude", []) if mode != "exemplars only" else []
                    text = [t for t in text if isinstance(t, str)]
                    neg = [t for t in neg if isinstance(t, str)]
                    imgs = [{"image": str(p)} for p in ex[n]]
                    cfgs.append({"name": n, "examples_to_include": [*text, *imgs], "examples_to_exclude": neg})
                with tempfile.TemporaryDirectory() as tmp:
                    spec_path = Path(tmp) / "c.json"
                    spec_path.write_text(json.dumps({"classifier_configs": cfgs}))
                    c2 = clf.with_spec(ClassSpec.from_json(spec_path))
                held = [f for n in names for f in by_class[n] if f not in ex[n]]
                hf = [feats[pos[f]] for f in held]
                rel = c2.relevance(hf)
                # text alone: OCR evidence only (its word overlap reads the whole screen, no foreground box)
                text_only = {"text": rel["text"]}
                if "words" in rel:  # the few-shot rule is on (k >= 2)
                    words = c2.exemplar_sources["words"]
                    text_only["words"] = words.relevance([ScreenFeatures(text=f.text) for f in hf])
                combos = {"text": text_only, "fused": rel}
                if mode == "exemplars only":
                    combos["visual"] = {"visual": rel["visual"]}
                for combo, parts in combos.items():
                    raw = c2.rule.scores(parts)
                    pred = [c2.names[int(i)] for i in raw.argmax(1)]
                    per = correct.setdefault(combo, {})
                    for f, p in zip(held, pred):
                        per.setdefault(f.parent.name, []).append(int(p == f.parent.name))
            for combo, per in correct.items():
                total = sum(len(v) for v in per.values())
                row = {
                    "k": k,
                    "examples": mode,
                    "channels": combo,
                    "accuracy": round(sum(sum(v) for v in per.values()) / total, 4),
                    "evaluated": total,
                    "splits": n_splits,
                }
                icons = {n: round(sum(per[n]) / len(per[n]), 3) for n in ICON_STATES if n in per}
                if icons:
                    row["icon_dialog_recall"] = icons
                rows.append(row)
    return rows


def run(quick: bool) -> dict:
    from screenstate import ClassSpec, ScreenClassifier

    cache = os.environ.get("SCREENSTATE_BENCH_CACHE", str(HERE / ".cache"))
    spec = ClassSpec.from_json(DEV / "classes.json")
    clf = ScreenClassifier(spec, encoder="visual+text", cache=cache)
    sets = {"screens-dev": DEV, **heldout_sets()}
    table = []
    for name, root in sets.items():
        for row in evaluate_set(clf, root, quick):
            table.append({"set": name, **row})

    def pick(set_name: str) -> float | None:
        for r in table:
            if (
                r["set"] == set_name
                and r["k"] == 3
                and r["examples"] == "text prompts + exemplars"
                and r["channels"] == "fused"
            ):
                return float(r["accuracy"])
        return None

    held = [r for r in table if r["set"] != "screens-dev" and r["k"] == 3 and r["channels"] == "fused"]
    out = result(
        "fewshot_accuracy",
        "top-1 accuracy (screens-dev, k=3, text prompts + exemplars, visual+text fused)",
        pick("screens-dev") or 0.0,
        encoder="visual+text",
        datasets=list(sets),
        splits=SPLITS,
    )
    out["table"] = table
    out["heldout_k3_fused"] = held
    return out
