"""batch_throughput: frames/s of classify_directory (Ray Data, ViT-B-32 random weights,
bf16) over the dev recording and the whole dev set, against a plain open_clip loop over
the same files in the same run (which loads its model before the clock starts, so the
job is timed the same way: from `BatchJob.run()` with Ray up and the model loaded, on a
fresh cache). Cold start is measured separately on a fresh process state: job
construction (model load), Ray start and the first encoded frame."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from bench_classify import plain_open_clip_loop
from common import DEV, recording_files
from run import result


def job_fps(root: Path, classes: Path, cache: Path, warm: bool) -> tuple[float, float, int]:
    """(frames/s, seconds to the first encoded frame, frames); ``warm`` times run() only."""
    from screenstate.batch.job import BatchJob, JobConfig
    from screenstate.embeddings.factory import EncoderOptions

    t0 = time.perf_counter()
    first: list[float] = []

    def on_encoded(n: int) -> None:
        if not first:
            first.append(time.perf_counter() - t0)

    cfg = JobConfig(
        root=root,
        classes=classes,
        output=cache / "out.csv",
        cache_dir=cache,
        encoder="clip",
        options=EncoderOptions(clip_pretrained="random", precision="bf16", device="cpu"),
        progress=False,
        on_encoded=on_encoded,
        batch_size=32,
    )
    job = BatchJob(cfg)
    if warm:
        job.classifier  # noqa: B018 - wait for the background model load, like the loop's preload
        t0 = time.perf_counter()
    s = job.run()
    return s.n_frames / (time.perf_counter() - t0), first[0] if first else float("nan"), s.n_frames


def run(quick: bool) -> dict:
    classes = DEV / "classes.json"
    texts = [t for c in json.loads(classes.read_text())["classifier_configs"] for t in c["examples_to_include"]]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:  # cold: nothing loaded, Ray not started
        cold_fps, cold_start, _ = job_fps(DEV / "recording", classes, Path(tmp), warm=False)
    sets = [("recording (61 frames, 28% exact repeats)", DEV / "recording")]
    if not quick:
        sets.append(("whole dev set (150 labeled frames, unique)", DEV))
    for label, root in sets:
        files = (
            recording_files()
            if root.name == "recording"
            else sorted(p for p in root.glob("*/*.png") if p.parent.name != "recording")
        )
        base = max(plain_open_clip_loop(files, texts) for _ in range(2))  # best of 2, both sides
        fps, n = 0.0, 0
        for _ in range(2):
            with tempfile.TemporaryDirectory() as tmp:
                f, _, n = job_fps(root, classes, Path(tmp), warm=True)
            fps = max(fps, f)
        rows.append(
            {"set": label, "frames": n, "job_frames_per_s": fps, "plain_loop_frames_per_s": base, "speedup": fps / base}
        )
    out = result(
        "batch_throughput",
        "frames/s (recording, warm job)",
        rows[0]["job_frames_per_s"],
        "plain open_clip loop (fp32, one image at a time)",
        rows[0]["plain_loop_frames_per_s"],
        cold_start_to_first_frame_s=cold_start,
        model="ViT-B-32 random weights, bf16, letterbox",
    )
    out["table"] = rows
    out["notes"] = (
        "Warm job time covers hashing, de-duplication, Ray Data decode/preprocess tasks, encoding and writing "
        "outputs; cold start adds model load and Ray start (reported separately)."
    )
    return out
