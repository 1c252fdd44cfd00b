"""Batch jobs over whole recordings (Ray Data). Imports are lazy so Ray workers that only
decode and preprocess do not import torch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from screenstate.batch.job import BatchJob, JobConfig, JobSummary
    from screenstate.recordings.folder import discover_frames
    from screenstate.recordings.frame import Frame

__all__ = ["BatchJob", "Frame", "JobConfig", "JobSummary", "discover_frames"]


def __getattr__(name: str) -> Any:
    import importlib

    if name in ("BatchJob", "JobConfig", "JobSummary"):
        return getattr(importlib.import_module("screenstate.batch.job"), name)
    if name in ("Frame", "discover_frames"):
        return (
            getattr(importlib.import_module("screenstate.recordings"), name)
            if name == "Frame"
            else getattr(importlib.import_module("screenstate.recordings.folder"), name)
        )
    raise AttributeError(f"module 'screenstate.batch' has no attribute {name!r}")
