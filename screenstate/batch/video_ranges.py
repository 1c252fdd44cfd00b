"""A long video shared by a Ray cluster: keyframe-aligned time ranges, one task each.

The keyframe times come from the container's packets (no decoding); the video is cut at
the keyframes nearest to equal shares of its duration, so every range starts where a
decoder can start (a seek lands exactly there) and no frame is decoded twice. Each range
is decoded and change-gated by its own Ray actor (its first frame is read in full); the
features come back to the driver through Ray, never through a shared disk, and the
driver classifies them and numbers the frames across ranges.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from screenstate.batch.sequence import GatedChunk, gate_video
from screenstate.embeddings.gating import GateOptions
from screenstate.recordings.decode import VideoInfo, keyframe_times

if TYPE_CHECKING:
    from screenstate.batch.config import JobConfig

#: videos shorter than this are not split automatically (model loads would dominate)
AUTO_SPLIT_MIN_S = 120.0


def split_at_keyframes(keyframes: list[float], duration: float, n: int) -> list[tuple[float, float | None]]:
    """At most ``n`` ranges [start, end) starting at keyframes, near equal in duration;
    the last range is open-ended (None) so no frame past the declared duration is lost.

    >>> split_at_keyframes([0.0, 2.0, 4.0, 6.0, 8.0], 10.0, 2)
    [(0.0, 4.0), (4.0, None)]
    """
    keys = sorted(set(k for k in keyframes if k >= 0)) or [0.0]
    if keys[0] > 0:
        keys.insert(0, 0.0)
    cuts = [0.0]
    for i in range(1, max(1, n)):
        target = duration * i / n
        best = min(keys, key=lambda k: abs(k - target))
        if best > cuts[-1]:
            cuts.append(best)
    return [(a, b) for a, b in zip(cuts, [*cuts[1:], None])]


def plan_ranges(
    video: Path, info: VideoInfo, requested: int, ray_address: str | None
) -> list[tuple[float, float | None]]:
    """The ranges a video is decoded in: ``requested`` (>0), else one on a single machine
    and two per node on a cluster for videos longer than ``AUTO_SPLIT_MIN_S``."""
    n = requested
    if n == 0:
        if not ray_address or (info.duration_s or 0.0) < AUTO_SPLIT_MIN_S:  # the CLI reads RAY_ADDRESS
            return [(0.0, None)]
        from screenstate.batch.ray_setup import init_ray

        init_ray(ray_address)
        import ray

        n = 2 * max(1, len([x for x in ray.nodes() if x.get("Alive")]))
    if n <= 1:
        return [(0.0, None)]
    return split_at_keyframes(keyframe_times(video), info.duration_s or 0.0, n)


class _RangeWorker:
    """Ray actor: loads the classifier once, decodes and gates ranges it is given."""

    def __init__(self, classes: str, encoder: str, options_json: str, min_score: float | None, threads: int) -> None:
        from screenstate.classify import ScreenClassifier
        from screenstate.embeddings.calibrate import limit_threads
        from screenstate.embeddings.factory import EncoderOptions

        limit_threads(threads)
        opts = EncoderOptions.model_validate_json(options_json)
        self.clf = ScreenClassifier(classes, encoder=encoder, options=opts, min_score=min_score, memory_cache=0)

    def run(
        self,
        video: str,
        gate: GateOptions | None,
        fps: float | None,
        start_s: float,
        end_s: float | None,
        video_hash: str,
        thumbs: bool,
    ) -> GatedChunk:
        return gate_video(self.clf, video, gate, fps, start_s, end_s, video_hash, thumbs)


def run_ranges(
    cfg: JobConfig,
    video: Path,
    ranges: list[tuple[float, float | None]],
    gate: GateOptions | None,
    video_hash: str,
    thumbs: bool,
) -> list[GatedChunk]:
    """Gate each range in its own actor; chunks in range order. (The actors keep no
    feature store: a cluster's nodes need not share a disk.)"""
    import ray

    from screenstate.batch.ray_setup import init_ray

    init_ray(cfg.ray_address)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    n_actors = max(1, min(len(ranges), cpus))
    threads = max(1, cpus // n_actors)
    remote: Any = ray.remote(num_cpus=threads)(_RangeWorker)
    actors = [
        remote.remote(str(cfg.classes.resolve()), cfg.encoder, cfg.options.model_dump_json(), cfg.min_score, threads)
        for _ in range(n_actors)
    ]
    refs = [
        actors[i % n_actors].run.remote(str(video), gate, cfg.sequence.fps, a, b, video_hash, thumbs)
        for i, (a, b) in enumerate(ranges)
    ]
    chunks: list[GatedChunk] = ray.get(refs)
    for a in actors:
        ray.kill(a)
    # range seams: fps buckets are global, so a range's first kept frame may share its
    # bucket with the previous range's last one; keep the earlier (one row per bucket)
    fps = cfg.sequence.fps
    if fps is not None:
        import math

        seen: set[int] = set()
        for c in chunks:
            keep = [
                i
                for i, (t, e) in enumerate(zip(c.times, c.errors))
                if e is not None or t is None or math.floor(t * fps + 1e-6) not in seen
            ]
            seen.update(math.floor(t * fps + 1e-6) for t, e in zip(c.times, c.errors) if t is not None and e is None)
            c.times = [c.times[i] for i in keep]
            c.errors = [c.errors[i] for i in keep]
            c.feature_ids = [c.feature_ids[i] for i in keep]
            c.hows = [c.hows[i] for i in keep]
    return chunks
