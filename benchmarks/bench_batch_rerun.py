"""batch_rerun: time of a warm classify_directory re-run on 1,000 distinct frames after
editing the class file (every feature comes from the on-disk cache; zero encodes),
against the cold first run in the same process."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from common import DEV, dev_files
from PIL import Image
from run import result


def run(quick: bool) -> dict:
    from screenstate.batch.job import BatchJob, JobConfig
    from screenstate.embeddings.factory import EncoderOptions

    n = 200 if quick else 1000
    srcs = dev_files()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rec = tmp / "rec"
        rec.mkdir()
        for i in range(n):  # distinct frames: one pixel differs
            im = Image.open(srcs[i % len(srcs)]).convert("RGB").resize((640, 360))
            im.putpixel((i % 640, (i // 640) % 360), (i % 256, 7, 7))
            im.save(rec / f"frame_{i:05d}.png", compress_level=1)
        classes = tmp / "classes.json"
        spec = json.loads((DEV / "classes.json").read_text())
        classes.write_text(json.dumps(spec))

        def job() -> tuple[float, int]:
            cfg = JobConfig(
                root=rec,
                classes=classes,
                output=tmp / "out.csv",
                cache_dir=tmp / "cache",
                encoder="clip",
                options=EncoderOptions(clip_pretrained="random", precision="bf16", device="cpu"),
                progress=False,
            )
            t = time.perf_counter()
            s = BatchJob(cfg).run()
            return time.perf_counter() - t, s.encoded

        cold, cold_enc = job()
        spec["classifier_configs"][0]["examples_to_include"].append("an overview page with key numbers")
        classes.write_text(json.dumps(spec))
        warm, warm_enc = job()
    out = result(
        "batch_rerun",
        "s (warm re-run after editing the class file)",
        warm,
        "cold first run",
        cold,
        higher_is_better=False,
        frames=n,
        encodes_in_rerun=warm_enc,
        encodes_in_first_run=cold_enc,
    )
    return out
