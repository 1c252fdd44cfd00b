"""Batch jobs over whole recordings (Ray Data)."""

from screenstate.batch.job import BatchJob, JobConfig, JobSummary
from screenstate.batch.layout import Frame, discover_frames

__all__ = ["BatchJob", "Frame", "JobConfig", "JobSummary", "discover_frames"]
