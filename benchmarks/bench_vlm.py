"""vlm_latency: latency per answer path of the question router on 2 cores: classifier,
detector, OCR (text channel, warm models, one 1280x800 screenshot each) against the VLM
path it saves: the default VLM's architecture (SmolVLM-256M-Instruct, Idefics3) at its real
size with random weights built from its published config (see ``vlm_random.py``; no
download), answering a real question about a real screenshot, generation fixed at
``MAX_NEW_TOKENS`` tokens. Baseline: the VLM path on torch in its default precision.

The VLM runs on both runtimes in the same run, on the same model and prompt: torch in its
default precision (bf16 where the CPU has it: what the VLM ran on before), torch fp32 (the
reference tokens), and OpenVINO at the precision ``precision="auto"`` chooses on this
machine (exported and calibrated here from an empty cache; the time that takes is
reported), plus each OpenVINO candidate precision at full size. ``params.torch_over_openvino``
= torch default p50 / OpenVINO p50; ``params.openvino_tokens_equal_fp32`` says whether the
OpenVINO answer's tokens equal torch fp32's."""

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
        img = Image.open(vlm_q[0]).convert("RGB")
        vlm_rows, vlm_params, vlm = _vlm_section(Path(tmp), Asker(checker=checker), img, vlm_q, quick)
        rows += vlm_rows
        # what the processor feeds the model, after the VLM's own resize
        prompt = vlm._inputs(resize_max_side(img, vlm.max_side), vlm_q[1])
        prompt_tokens, tiles = int(prompt["input_ids"].shape[1]), int(prompt["pixel_values"].shape[1])
        if local_snapshot(DEFAULT_VLM) is not None:
            real = VLM(DEFAULT_VLM, max_new_tokens=MAX_NEW_TOKENS)
            t = time.perf_counter()
            ans = real.answer(img, vlm_q[1])
            rows.append(_row(f"vlm ({DEFAULT_VLM}, {ans.runtime})", vlm_q, [time.perf_counter() - t], ans.token_ids))
    n_params = vlm_params.pop("vlm_params")
    vlm_ms = vlm_params["torch_p50_ms"]
    cls_ms = next(r["median_ms"] for r in rows if r["path"] == "classifier")
    out = result(
        "vlm_latency",
        "ms (classifier path, median)",
        cls_ms,
        "VLM path (SmolVLM-256M architecture, real size, random weights)",
        vlm_ms,
        higher_is_better=False,
        vlm_params=n_params,
        **vlm_params,
        vlm_max_new_tokens=MAX_NEW_TOKENS,
        vlm_prompt_tokens_at_full_size=prompt_tokens,
        vlm_image_tiles_at_full_size=tiles,
        vlm_max_side=vlm.max_side,
        fast_path_encoder="text",
        default_vlm_weights_measured=local_snapshot(DEFAULT_VLM) is not None,
    )
    out["table"] = rows
    out["notes"] = (
        f"The VLM row is SmolVLM-256M-Instruct's architecture ({n_params / 1e6:.0f} M parameters, Idefics3: "
        "SigLIP-B/16 at 512 px + SmolLM2-135M) with random weights from its published config: the compute of "
        f"one answer is the real model's (image tiles, image tokens, layers), capped at {MAX_NEW_TOKENS} generated "
        "tokens (generation never stops early here). The screenshot is 1280x800, shrunk by the VLM to 1024 px "
        "on the long side; the processor then splits it into 512 px tiles as the real model does. "
        "Fast paths use the offline text channel. OpenVINO rows: the same model converted by "
        "screenstate/vlm_openvino.py; 'agrees': its tokens equal torch fp32's. Tokens/s counts the whole answer "
        "(image encoding and prompt included). memory_mb: torch = the weights' bytes; OpenVINO = the process's "
        "resident memory growth from compiling its graphs and answering."
    )
    return out


def _row(path: str, q: tuple, times: list[float], ids: tuple[int, ...] | list[int], **extra: object) -> dict:
    ms = _median_ms(times)
    return {
        "path": path,
        "question": q[1],
        "image": q[0].name,
        "median_ms": ms,
        "runs": len(times),
        "answer": f"{len(ids)} tokens",
        "tokens_per_s": round(len(ids) / (ms / 1000), 2),
        **extra,
    }


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _vlm_section(tmp: Path, asker: object, img: Image.Image, vlm_q: tuple, quick: bool) -> tuple[list, dict, object]:
    """Torch (default precision and fp32) and OpenVINO (auto, and each candidate) on one model."""
    import torch
    from smolvlm_random import smolvlm_256m_random

    from screenstate.embeddings.clip import resolve_dtype
    from screenstate.embeddings.images import resize_max_side
    from screenstate.vlm import VLM
    from screenstate.vlm_openvino import OvVlm, candidates

    vt, n_params = smolvlm_256m_random(tmp, MAX_NEW_TOKENS, precision="fp32", runtime="torch")
    runs = 1 if quick else 2

    def measure(vlm: object, n: int) -> tuple[list[float], tuple[int, ...]]:
        times, ids = [], ()
        for _ in range(n):
            ans = vlm.answer(img, vlm_q[1])  # type: ignore[attr-defined]
            times.append(ans.seconds)
            ids = ans.token_ids
        return times, ids

    # OpenVINO first (its export reads the fp32 weights), from an empty cache: export + calibration timed
    ov = VLM(
        model="SmolVLM-256M (random, config)",
        model_obj=vt._model,
        processor=vt._processor,
        device="cpu",
        precision="auto",
        max_new_tokens=MAX_NEW_TOKENS,
        time_budget_s=600.0,
        runtime="openvino",
        export_root=tmp / "cache",
    )
    rss0 = _rss_mb()
    t = time.perf_counter()
    runner = ov._openvino()
    prepare_s = time.perf_counter() - t
    ov.answer(img, vlm_q[1])  # first inference at this prompt's shapes
    ov_times, ov_ids = measure(ov, 1 + runs)
    ov_mem = _rss_mb() - rss0
    from screenstate.asking import Asker

    routed = Asker(checker=asker.checker, vlm=ov).ask(img, vlm_q[1])  # type: ignore[attr-defined]
    assert routed.path == "vlm", routed.path

    fp32_times, ref_ids = measure(vt, 1)  # torch fp32: the reference tokens
    default_dtype = resolve_dtype("auto", torch.device("cpu"))
    vt._model.to(default_dtype)  # torch in its default precision: what the VLM path ran on before
    torch_times, torch_ids = measure(vt, runs)
    torch_name = str(default_dtype).removeprefix("torch.")
    weights_mb = sum(p.numel() * p.element_size() for p in vt._model.parameters()) / 2**20
    rows = [
        _row(
            f"vlm (torch {torch_name}, SmolVLM-256M architecture, random weights)",
            vlm_q,
            torch_times,
            torch_ids,
            memory_mb=round(weights_mb),
            agrees=torch_ids == ref_ids,
        ),
        _row("vlm (torch fp32)", vlm_q, fp32_times, ref_ids, memory_mb=round(n_params * 4 / 2**20), agrees=True),
        _row(
            f"vlm (openvino {runner.precision}, chosen by precision=auto)",
            vlm_q,
            ov_times,
            ov_ids,
            memory_mb=round(ov_mem),
            agrees=ov_ids == ref_ids,
        ),
    ]
    prompt = ov._inputs(resize_max_side(img, ov.max_side), vlm_q[1])
    ids_in, px = prompt["input_ids"].numpy(), prompt["pixel_values"].float().numpy()
    for prec in candidates():  # every candidate at full size (one answer after a short warm-up)
        g = OvVlm(runner.folder, prec, runner.choice.threads)
        g.generate(ids_in, px, None, 2)
        t = time.perf_counter()
        ids = g.generate(ids_in, px, None, MAX_NEW_TOKENS)
        rows.append(_row(f"vlm (openvino {prec})", vlm_q, [time.perf_counter() - t], ids, agrees=tuple(ids) == ref_ids))
        del g
    ov_ms, torch_ms = _median_ms(ov_times), _median_ms(torch_times)
    params = {
        "vlm_params": n_params,
        "vlm_precision": torch_name,
        "torch_over_openvino": torch_ms / ov_ms,
        "torch_fp32_over_openvino": _median_ms(fp32_times) / ov_ms,
        "openvino_precision": runner.precision,
        "openvino_choice": runner.choice.describe(),
        "openvino_tokens_equal_fp32": ov_ids == ref_ids,
        "torch_default_tokens_equal_fp32": torch_ids == ref_ids,
        "openvino_export_and_calibration_s": round(prepare_s, 1),
        "openvino_p50_ms": ov_ms,
        "torch_p50_ms": torch_ms,
    }
    return rows, params, vt
