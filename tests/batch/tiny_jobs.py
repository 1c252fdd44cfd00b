"""The batch job the capture and hostile-input tests run: the tiny CLIP model, the small
class file, a cache under the test's tmp_path, no progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from screenstate.batch.job import BatchJob, JobConfig


def tiny_job(root: Path, output: Path, tmp_path: Path, data_dir: Path, tiny_options: Any, **kw: Any) -> BatchJob:
    """A ``BatchJob`` over ``root`` writing ``output`` (bad roots raise here, before any model)."""
    cfg = JobConfig(
        root=root,
        classes=data_dir / "classes_small.json",
        output=output,
        cache_dir=tmp_path / "cache",
        encoder="clip",
        options=tiny_options,
        progress=False,
        **kw,
    )
    return BatchJob(cfg)
