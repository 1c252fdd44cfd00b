"""questions_recording: a question list asked of every frame of ``examples/recording`` (13
real screenshots, 1280x800) through ``screenstate.questions.ask_recording``, in
(frames x questions) answered per second. The list covers every route: a state question
(classifier, screens-dev's class file, text channel), a "where" question (detector), two
reading questions (OCR) and two free-form ones (VLM: SmolVLM-256M's architecture at real size,
random weights, ``MAX_NEW_TOKENS`` tokens, on the runtime and precision ``VLM()`` picks here;
exported and calibrated before timing; ``--quick``: the first 3 frames, and the VLM's
OpenVINO precision given as bf16 where native, without calibration, so it fits in minutes).

Baseline, in the same run: the naive loop, ``Asker.ask`` for each (frame, question) in turn
(each routed question reads the screen's text again; repeats are asked again; each VLM
question encodes the image again). ``vlm_image_encodings``: how often the run encoded an
image for the VLM (once per distinct frame however many VLM questions ask about it).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import DEV
from run import ROOT, result

QUESTIONS = [
    "which screen is this?",
    "where is the Sign In button?",
    "what does the error message say?",
    "what is the title?",
    "which file is selected?",
    "how many files are shown?",
]
MAX_NEW_TOKENS = 16


def run(quick: bool) -> dict:
    from bench_vlm import quick_precision
    from smolvlm_random import smolvlm_256m_random

    from screenstate import StateChecker
    from screenstate.asking import Asker
    from screenstate.embeddings.images import load_image
    from screenstate.questions import ask_recording, recording_frames

    root = ROOT / "examples" / "recording"
    with tempfile.TemporaryDirectory() as tmp:
        precision = quick_precision() if quick else "auto"
        vlm, n_params = smolvlm_256m_random(Path(tmp), MAX_NEW_TOKENS, precision=precision, runtime="auto")
        vlm.export_root = Path(tmp) / "cache"
        checker = StateChecker(DEV / "classes.json", encoder="text")
        asker = Asker(checker=checker, vlm=vlm)
        frames = list(recording_frames(root))
        if quick:
            frames = frames[:3]
        first = load_image(frames[0].load())  # type: ignore[misc]
        for q in QUESTIONS:  # warm: every model loaded, exported, calibrated
            asker.ask(first, q)
        graphs = vlm._ov.graphs if vlm._ov is not None else None  # None: the VLM runs on torch
        if graphs is not None and graphs._images is not None:
            graphs._images.clear()  # the warm-up's frame is not reused by the timed run
        runs0 = graphs.vision_runs if graphs is not None else 0
        t = time.perf_counter()
        summary = ask_recording(asker, frames, QUESTIONS, Path(tmp) / "answers.csv")
        ours = time.perf_counter() - t
        encodings = graphs.vision_runs - runs0 if graphs is not None else None
        images = graphs._images if graphs is not None else None
        if graphs is not None:
            graphs._images = None  # the naive loop encodes the image again for each VLM question
        t = time.perf_counter()
        for fr in frames:
            img = fr.load()  # type: ignore[misc]
            for q in QUESTIONS:
                checker.reset()
                asker.ask(img, q)
        naive = time.perf_counter() - t
        if graphs is not None:
            graphs._images = images
    n = len(frames) * len(QUESTIONS)
    return result(
        "questions_recording",
        "answers/s (frames x questions)",
        n / ours,
        "Asker.ask per (frame, question)",
        n / naive,
        frames=len(frames),
        questions=len(QUESTIONS),
        answers=n,
        rows_written=summary.rows_written,
        frames_asked=summary.asked,
        frames_copied=summary.copied,
        routes=summary.routes,
        seconds=round(ours, 2),
        baseline_seconds=round(naive, 2),
        vlm=f"SmolVLM-256M architecture, random weights ({n_params / 1e6:.0f} M), {vlm.runtime_used}",
        vlm_max_new_tokens=MAX_NEW_TOKENS,
        vlm_answers_per_asked_frame=summary.routes.get("vlm", 0) / max(1, summary.asked),
        vlm_image_encodings=encodings,
    )
