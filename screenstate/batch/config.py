"""What a classify_directory run is asked to do (:class:`JobConfig`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from screenstate.batch.sequence import SequenceOptions
from screenstate.embeddings.defaults import DEFAULT_MAX_PIXELS
from screenstate.embeddings.factory import EncoderOptions


@dataclass
class JobConfig:
    """Everything a classify_directory run needs."""

    #: a local directory, or a URI every Ray node can read (s3://, gs://, file:// on a shared mount)
    root: Path | str
    classes: Path
    output: Path | None = None
    scores_file: Path | None = None
    metrics_json: Path | None = None
    report: Path | None = None
    #: recordings with actions (OpenAdapt captures, openadapt-flow): one CSV row per user action
    actions: Path | None = None
    cache_dir: Path | None = None
    resume: bool = False
    ray_address: str | None = None
    batch_size: int = 32
    encoder: str = "auto"
    options: EncoderOptions = field(default_factory=EncoderOptions)
    min_score: float | None = None
    eval_only: bool = False
    #: refuse frames with more decoded pixels (the CLI's --max-pixels / SCREENSTATE_MAX_PIXELS)
    max_pixels: int = DEFAULT_MAX_PIXELS
    none_label: str = "unknown"
    progress: bool = True
    #: where images are encoded: "actors" (a Ray actor pool; what a cluster needs), "driver"
    #: (this process, fed by Ray preprocessing tasks), or "auto" (driver on a local Ray)
    encode_in: str = "auto"
    #: CPUs (and torch threads) per encoding actor on CPU nodes (clamped to the largest node)
    cpus_per_actor: int = 4
    #: test hook: called after each encoded batch with the running count of encoded frames
    on_encoded: Callable[[int], None] | None = None
    #: videos and ordered folders: change gating, --fps, --segments (batch/ordered.py)
    sequence: SequenceOptions = field(default_factory=SequenceOptions)
