"""vlm_latency: latency per answer path of the question router on 2 cores: classifier,
detector, OCR (text channel, warm models, one 1280x800 screenshot each) against the VLM
path it saves: the default VLM's architecture (SmolVLM-256M-Instruct, Idefics3) at its real
size with random weights built from its published config (see ``smolvlm_random.py``; no
download), answering a real question about a real screenshot, generation fixed at
``MAX_NEW_TOKENS`` tokens, in the VLM's default precision. Baseline: the VLM path."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import DEV, recording_files
from PIL import Image
from run import result

#: generated tokens per VLM answer (fixed: the random model never stops early)
MAX_NEW_TOKENS = 16


def _median_ms(times: list[float]) -> float:
    s = sorted(times)
    mid = len(s) // 2
    return 1000 * (s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2)


def run(quick: bool) -> dict:
    from smolvlm_random import smolvlm_256m_random

    from screenstate import StateChecker
    from screenstate.asking import Asker
    from screenstate.embeddings.hub import local_snapshot
    from screenstate.embeddings.images import resize_max_side
    from screenstate.vlm import DEFAULT_VLM, VLM

    frames = recording_files()
    shots = {"login": frames[19], "error": frames[11], "files": frames[4]}
    checker = StateChecker(DEV / "classes.json", encoder="text")
    fast = [
        ("classifier", shots["login"], "is the login page showing?"),
        ("detector", shots["login"], "where is the Sign In button?"),
        ("ocr", shots["error"], "what does the error message say?"),
    ]
    vlm_q = (shots["files"], "which file is selected?")
    rows = []
    asker = Asker(checker=checker)
    for path, shot, q in fast:
        img = Image.open(shot).convert("RGB")
        asker.ask(img, q)  # warm: models loaded
        times = []
        for _ in range(3 if quick else 7):
            checker.reset()
            t = time.perf_counter()
            ans = asker.ask(img, q)
            times.append(time.perf_counter() - t)
        assert ans.path == path, (q, ans.path)
        rows.append(
            {
                "path": path,
                "question": q,
                "image": shot.name,
                "median_ms": _median_ms(times),
                "runs": len(times),
                "answer": ans.text[:60],
            }
        )
    with tempfile.TemporaryDirectory() as tmp:
        vlm, n_params = smolvlm_256m_random(Path(tmp), MAX_NEW_TOKENS)
        vlms = [("SmolVLM-256M architecture, random weights (config)", vlm)]
        if local_snapshot(DEFAULT_VLM) is not None:
            vlms.append((DEFAULT_VLM, VLM(DEFAULT_VLM, max_new_tokens=MAX_NEW_TOKENS)))
        img = Image.open(vlm_q[0]).convert("RGB")
        for name, model in vlms:
            va = Asker(checker=checker, vlm=model)
            times, tokens = [], []
            for _ in range(1 if quick else 2):  # about a minute per answer on 2 busy cores
                t = time.perf_counter()
                ans = va.ask(img, vlm_q[1])
                times.append(time.perf_counter() - t)
                tokens.append(ans.evidence["new_tokens"])
            assert ans.path == "vlm", ans.path
            rows.append(
                {
                    "path": f"vlm ({name})",
                    "question": vlm_q[1],
                    "image": vlm_q[0].name,
                    "median_ms": _median_ms(times),
                    "runs": len(times),
                    "answer": f"{tokens[-1]} tokens",
                }
            )
        # what the processor feeds the model, after the VLM's own resize
        prompt = vlm._inputs(resize_max_side(img, vlm.max_side), vlm_q[1])
        prompt_tokens, tiles = int(prompt["input_ids"].shape[1]), int(prompt["pixel_values"].shape[1])
    vlm_ms = next(r["median_ms"] for r in rows if r["path"].startswith("vlm"))
    cls_ms = next(r["median_ms"] for r in rows if r["path"] == "classifier")
    out = result(
        "vlm_latency",
        "ms (classifier path, median)",
        cls_ms,
        "VLM path (SmolVLM-256M architecture, real size, random weights)",
        vlm_ms,
        higher_is_better=False,
        vlm_params=n_params,
        vlm_precision=str(vlm.dtype).removeprefix("torch."),
        vlm_max_new_tokens=MAX_NEW_TOKENS,
        vlm_prompt_tokens_at_full_size=prompt_tokens,
        vlm_image_tiles_at_full_size=tiles,
        vlm_max_side=vlm.max_side,
        fast_path_encoder="text",
        default_vlm_weights_measured=len(vlms) > 1,
    )
    out["table"] = rows
    out["notes"] = (
        f"The VLM row is SmolVLM-256M-Instruct's architecture ({n_params / 1e6:.0f} M parameters, Idefics3: "
        "SigLIP-B/16 at 512 px + SmolLM2-135M) with random weights from its published config: the compute of "
        f"one answer is the real model's (image tiles, image tokens, layers), capped at {MAX_NEW_TOKENS} generated "
        "tokens (generation never stops early here). The screenshot is 1280x800, shrunk by the VLM to 1024 px "
        "on the long side; the processor then splits it into 512 px tiles as the real model does. "
        "Fast paths use the offline text channel."
    )
    return out
