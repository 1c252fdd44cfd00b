"""batch_throughput: frames/s of classify_directory (Ray Data, ViT-B-32 random weights)
over the dev recording and the labeled dev set, against a plain open_clip loop over the
same files in the same precision in the same run (fp32 is the headline; bf16 rows show
the precision effect on both sides) (which loads its model before the clock starts, so the
job is timed the same way: from `BatchJob.run()` with Ray up and the model loaded, on a
fresh cache). Cold start is measured separately on a fresh process state: job
construction (model load), Ray start and the first encoded frame."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from bench_classify import plain_open_clip_loop
from common import DEV, dev_files, labeled_devset_root, recording_files
from run import result


def job_fps(root: Path, classes: Path, cache: Path, warm: bool, precision: str) -> tuple[float, float, int]:
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
        options=EncoderOptions(clip_pretrained="random", precision=precision, device="cpu"),
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
        cold_fps, cold_start, _ = job_fps(DEV / "recording", classes, Path(tmp), warm=False, precision="fp32")
    sets = [("recording (61 frames, 28% exact repeats)", DEV / "recording", recording_files())]
    if not quick:
        sets.append(("labeled dev set (150 frames, unique)", labeled_devset_root(), dev_files()))
    for label, root, files in sets:
        for precision in ("fp32", "bf16"):
            base = max(plain_open_clip_loop(files, texts, precision) for _ in range(2))  # best of 2, both sides
            fps, n = 0.0, 0
            for _ in range(2):
                with tempfile.TemporaryDirectory() as tmp:
                    f, _, n = job_fps(root, classes, Path(tmp), warm=True, precision=precision)
                fps = max(fps, f)
            assert n == len(files), (label, n, len(files))  # both sides read the same frames
            rows.append(
                {
                    "set": label,
                    "precision": precision,
                    "frames": n,
                    "job_frames_per_s": fps,
                    "plain_loop_frames_per_s": base,
                    "speedup": fps / base,
                }
            )
    by = {(r["set"], r["precision"]): r for r in rows}
    rec = sets[0][0]
    out = result(
        "batch_throughput",
        "frames/s (recording, warm job, fp32)",
        by[(rec, "fp32")]["job_frames_per_s"],
        "plain open_clip loop (fp32, one image at a time, same frames)",
        by[(rec, "fp32")]["plain_loop_frames_per_s"],
        cold_start_to_first_frame_s=cold_start,
        model="ViT-B-32 random weights, letterbox",
        precision="fp32 both sides (headline); bf16 rows below",
        job_bf16_over_fp32=by[(rec, "bf16")]["job_frames_per_s"] / by[(rec, "fp32")]["job_frames_per_s"],
        loop_bf16_over_fp32=by[(rec, "bf16")]["plain_loop_frames_per_s"] / by[(rec, "fp32")]["plain_loop_frames_per_s"],
    )
    out["table"] = rows
    out["notes"] = (
        "Both sides read the same frames in the same precision (each row). Warm job time covers hashing, "
        "de-duplication, Ray Data decode/preprocess tasks, encoding and writing outputs; cold start adds model "
        "load and Ray start (reported separately, fp32)."
    )
    return out
