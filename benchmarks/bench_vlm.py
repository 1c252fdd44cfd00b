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
reported), plus each OpenVINO candidate precision at full size; with ``--quick`` OpenVINO
runs bf16 (fp32 without native bf16) as given, without calibration, and no candidate rows.
Each OpenVINO row is also fed torch fp32's tokens: its vision time per tile, decoder time
per token, and its agreement with torch fp32 (equal tokens, or logits within
``vlm_agreement.LOGIT_TOLERANCE``). ``params.torch_over_openvino``
= torch default p50 / OpenVINO p50 (``params.torch_baseline`` names that torch: bf16 where
native, torch's fastest here), ``params.torch_fp32_over_openvino`` = torch fp32 / OpenVINO;
``params.openvino_tokens_equal_fp32`` says whether the OpenVINO answer's tokens equal torch
fp32's. The OpenVINO answer's time is split into vision per tile, prefill and decoder per
new token (``params.openvino_*``)."""

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
        "screenstate/vlm_openvino.py; 'agrees': its tokens equal torch fp32's, or, fed torch fp32's tokens, its logits "
        "stay within logit_tolerance x fp32's logit spread with fp32's top-1 kept where fp32 is sure "
        "(screenstate/vlm_agreement.py). Tokens/s counts the whole answer "
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


def quick_precision() -> str:
    """--quick's OpenVINO precision, given instead of calibrated: bf16 where native, else fp32."""
    from screenstate.vlm_openvino import native_bf16

    return "bf16" if native_bf16() else "fp32"


def _torch_scored(vlm: object, img: Image.Image, question: str) -> tuple[float, object]:
    """Torch fp32's answer with its logits (the reference every OpenVINO candidate is fed)."""
    import torch

    from screenstate.embeddings.images import resize_max_side
    from screenstate.vlm_agreement import Scored

    inputs = vlm._inputs(resize_max_side(img, vlm.max_side), question)  # type: ignore[attr-defined]
    t = time.perf_counter()
    with torch.inference_mode():
        out = vlm._model.generate(  # type: ignore[attr-defined]
            **inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, output_scores=True, return_dict_in_generate=True
        )
    seconds = time.perf_counter() - t
    new = out.sequences[0][inputs["input_ids"].shape[1] :]
    logits = torch.stack([s[0] for s in out.scores]).float().numpy()
    return seconds, Scored(tuple(int(x) for x in new), logits)


def _vlm_section(tmp: Path, asker: object, img: Image.Image, vlm_q: tuple, quick: bool) -> tuple[list, dict, object]:
    """Torch (default precision and fp32) and OpenVINO (auto; with the full run, each
    candidate) on one model. Agreement: equal tokens, or logits within the tolerance of
    ``vlm_agreement`` when fed torch fp32's tokens."""
    import torch
    from smolvlm_random import smolvlm_256m_random

    from screenstate.embeddings.clip import resolve_dtype
    from screenstate.embeddings.images import resize_max_side
    from screenstate.vlm import VLM
    from screenstate.vlm_agreement import LOGIT_TOLERANCE, check
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
    # (--quick: bf16 given, no calibration, so the run fits in minutes; its agreement is still checked)
    ov = VLM(
        model="SmolVLM-256M (random, config)",
        model_obj=vt._model,
        processor=vt._processor,
        device="cpu",
        precision=quick_precision() if quick else "auto",
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
    ov._ov.graphs._images = None  # every timed answer encodes its image (no per-image reuse here)
    ov_times, ov_ids = measure(ov, runs)
    ov_mem = _rss_mb() - rss0
    from screenstate.asking import Asker

    routed = Asker(checker=asker.checker, vlm=ov).ask(img, vlm_q[1])  # type: ignore[attr-defined]
    assert routed.path == "vlm", routed.path

    fp32_s, ref = _torch_scored(vt, img, vlm_q[1])  # torch fp32: the reference tokens and logits
    ref_ids = ref.tokens
    default_dtype = resolve_dtype("auto", torch.device("cpu"))
    vt._model.to(default_dtype)  # torch in its default precision: what the VLM path ran on before
    torch_times, torch_ids = measure(vt, runs)
    torch_name = str(default_dtype).removeprefix("torch.")
    weights_mb = sum(p.numel() * p.element_size() for p in vt._model.parameters()) / 2**20
    prompt = ov._inputs(resize_max_side(img, ov.max_side), vlm_q[1])
    ids_in, px = prompt["input_ids"].numpy(), prompt["pixel_values"].float().numpy()
    tiles = int(px.shape[1])

    def candidate(prec: str, graphs: object = None) -> dict:
        """One answer at full size, fed torch fp32's tokens: time split and agreement."""
        g = graphs or OvVlm(runner.folder, prec, runner.choice.threads, images_kept=0)
        if graphs is None:
            g.generate(ids_in, px, None, 2)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        embeds = g.prompt_embeddings(ids_in, px)  # type: ignore[attr-defined]
        t1 = time.perf_counter()
        g.decode(embeds, 1)  # type: ignore[attr-defined]
        t2 = time.perf_counter()
        scored = g.decode(embeds, MAX_NEW_TOKENS, ref_ids)  # type: ignore[attr-defined]
        t3 = time.perf_counter()
        c = check(ref, scored)
        return {
            "vision_ms_per_tile": round(1000 * (t1 - t0) / tiles),
            "prefill_ms": round(1000 * (t2 - t1)),
            "decoder_ms_per_token": round(1000 * ((t3 - t2) - (t2 - t1)) / max(1, MAX_NEW_TOKENS - 1), 1),
            "answer_ms": round(1000 * ((t1 - t0) + (t3 - t2))),
            "tokens_equal": c.tokens_equal,
            "max_rel_logit_error": round(c.max_rel_error, 4),
            "confident_top1": f"{c.confident_top1}/{c.confident}",
            "agrees": c.ok,
        }

    chosen = candidate(runner.precision, ov._ov.graphs)
    rows = [
        _row(
            f"vlm (torch {torch_name}, SmolVLM-256M architecture, random weights)",
            vlm_q,
            torch_times,
            torch_ids,
            memory_mb=round(weights_mb),
            tokens_equal=torch_ids == ref_ids,
        ),
        _row("vlm (torch fp32)", vlm_q, [fp32_s], ref_ids, memory_mb=round(n_params * 4 / 2**20), agrees=True),
        _row(
            f"vlm (openvino {runner.precision}, {'given (--quick)' if quick else 'chosen by precision=auto'})",
            vlm_q,
            ov_times,
            ov_ids,
            memory_mb=round(ov_mem),
            **chosen,
        ),
    ]
    for prec in () if quick else candidates():  # every candidate at full size, after a short warm-up
        rows.append({"path": f"vlm (openvino {prec}, fed torch fp32's tokens)", **candidate(prec)})
    ov_ms, torch_ms = _median_ms(ov_times), _median_ms(torch_times)
    params = {
        "vlm_params": n_params,
        "vlm_precision": torch_name,
        "torch_over_openvino": torch_ms / ov_ms,
        "torch_fp32_over_openvino": 1000 * fp32_s / ov_ms,
        "torch_baseline": f"torch {torch_name} p50 over {runs} answers (torch fp32: {1000 * fp32_s:.0f} ms, 1 answer)",
        "openvino_precision": runner.precision,
        "openvino_choice": runner.choice.describe(),
        "openvino_tokens_equal_fp32": chosen["tokens_equal"],
        "openvino_max_rel_logit_error": chosen["max_rel_logit_error"],
        "openvino_agrees_with_fp32": chosen["agrees"],
        "logit_tolerance": LOGIT_TOLERANCE,
        "openvino_vision_ms_per_tile": chosen["vision_ms_per_tile"],
        "openvino_prefill_ms": chosen["prefill_ms"],
        "openvino_decoder_ms_per_token": chosen["decoder_ms_per_token"],
        "torch_default_tokens_equal_fp32": torch_ids == ref_ids,
        "openvino_export_and_calibration_s": round(prepare_s, 1),
        "openvino_p50_ms": ov_ms,
        "torch_p50_ms": torch_ms,
    }
    return rows, params, vt
