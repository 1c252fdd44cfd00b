"""vlm_latency: latency per answer path of the question router on 2 cores: classifier,
detector, OCR (text channel, warm models, one 1280x800 screenshot each) and the VLM path
with a tiny BLIP built from a config (the default SmolVLM needs downloaded weights; it is
measured only when they are in the local cache). Baseline: the VLM path."""

from __future__ import annotations

import time

from common import DEV, recording_files
from PIL import Image
from run import result


def run(quick: bool) -> dict:
    import tempfile
    from pathlib import Path

    from screenstate import StateChecker
    from screenstate.asking import Asker
    from screenstate.embeddings.hub import local_snapshot
    from screenstate.vlm import DEFAULT_VLM, VLM, tiny_blip_vlm

    frames = recording_files()
    shots = {"login": frames[19], "error": frames[11], "files": frames[4]}
    checker = StateChecker(DEV / "classes.json", encoder="text")
    questions = [
        ("classifier", shots["login"], "is the login page showing?"),
        ("detector", shots["login"], "where is the Sign In button?"),
        ("ocr", shots["error"], "what does the error message say?"),
        ("vlm", shots["files"], "which file is selected?"),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        vlms = [("tiny BLIP (config)", tiny_blip_vlm(Path(tmp), width=64, image_size=64, max_new_tokens=8))]
        if local_snapshot(DEFAULT_VLM) is not None:
            vlms.append((DEFAULT_VLM, VLM(DEFAULT_VLM)))
        for vlm_name, vlm in vlms:
            asker = Asker(checker=checker, vlm=vlm)
            for path, shot, q in questions:
                if path != "vlm" and vlm_name != vlms[0][0]:
                    continue
                img = Image.open(shot).convert("RGB")
                asker.ask(img, q)  # warm: models loaded, OCR of this frame cached by the checker where it applies
                times = []
                for _ in range(2 if quick else 5):
                    checker.reset()
                    t = time.perf_counter()
                    ans = asker.ask(img, q)
                    times.append(time.perf_counter() - t)
                assert ans.path == path, (q, ans.path)
                rows.append(
                    {
                        "path": path if path != "vlm" else f"vlm ({vlm_name})",
                        "question": q,
                        "median_ms": 1000 * sorted(times)[len(times) // 2],
                        "answer": ans.text[:60],
                    }
                )
    vlm_ms = next(r["median_ms"] for r in rows if r["path"].startswith("vlm"))
    cls_ms = next(r["median_ms"] for r in rows if r["path"] == "classifier")
    out = result(
        "vlm_latency",
        "ms (classifier path, median)",
        cls_ms,
        "VLM path (tiny config)",
        vlm_ms,
        higher_is_better=False,
        default_vlm_measured=len(rows) > 4,
    )
    out["table"] = rows
    out["notes"] = "The default SmolVLM-256M needs downloaded weights; without them only the tiny config runs."
    return out
