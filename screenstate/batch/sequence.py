"""Ordered recordings (videos, flat image folders) classified with change gating.

Frames go through :class:`~screenstate.embeddings.gating.ChangeGate` in order: an unchanged
or near-identical frame reuses the features of the last frame that was read, a partly
changed one is re-read only where it changed, a scene change is read in full. Features
that were read are kept in the feature store (memory + disk cache) under a key that names
the video, the frame time and the gate settings, so re-running with an edited class file
reads nothing again. Then every distinct feature set is classified once (milliseconds)
and the result fanned out to its frames.

    chunk = gate_video(clf, "rec.mp4", SequenceOptions())     # features + per-frame bookkeeping
    rows = video_rows("rec.mp4", [chunk], clf)                 # one SequenceRow per frame
"""

from __future__ import annotations

import base64
import bisect
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from screenstate.classify import ScreenClassifier
from screenstate.embeddings.features import ScreenFeatures
from screenstate.embeddings.gating import CONFIRM_MARGIN, ChangeGate, GateOptions, LazyFrame
from screenstate.errors import ScreenstateError, UnknownNameError
from screenstate.hashing import digest
from screenstate.recordings.decode import decode_video
from screenstate.recordings.frame import Frame
from screenstate.results import ClassificationResult

GATE_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class SequenceOptions:
    """Settings for ordered recordings.

    ``gate``: ``auto`` gates videos and leaves image folders to the parallel Ray path,
    ``on`` gates both, ``off`` reads every frame (the per-frame baseline);
    ``fps``: keep the first frame of every 1/fps s of a video (None: every frame);
    ``segments``: write state segments here; ``min_segment_s`` / ``min_segment_frames``:
    the temporal rule (see ``batch/segments.py``); ``video_ranges``: split a video into
    this many keyframe-aligned time ranges decoded by separate Ray tasks (0: one range on
    a single machine, two per node on a cluster).
    """

    gate: str = "auto"
    fps: float | None = None
    segments: Path | None = None
    min_segment_s: float = 0.0
    min_segment_frames: int = 0
    video_ranges: int = 0
    gate_options: GateOptions | None = None  # None: GateOptions.for_video() / exact() for images

    def __post_init__(self) -> None:
        if self.gate not in GATE_MODES:
            raise UnknownNameError("gate mode", self.gate, GATE_MODES)
        if self.fps is not None and not self.fps > 0:
            raise ScreenstateError(f"--fps must be a positive number, got {self.fps}")
        if self.video_ranges < 0:
            raise ScreenstateError(f"--video-ranges must be >= 0, got {self.video_ranges}")


@dataclass(frozen=True)
class SequenceRow:
    """One output row of an ordered recording (one per frame, or per run of lost frames)."""

    path: str
    frame_index: int
    time_s: float | None
    result: ClassificationResult | None
    error: str | None
    how: str | None = None  # full | partial | reused | cached
    thumb: str | None = None  # JPEG data URI of the frame that was read for this row
    feature_id: int = -1  # index into its chunk's features (-1: none)
    label: str | None = None
    content_hash: str | None = None
    source_ordinal: int | None = None  # captures: the recorder's number for the screenshot
    timestamp: float | None = None  # Unix seconds, where the recording says
    key: str | None = None  # the frame's source key when it differs from ``path``

    @property
    def from_file(self) -> bool:
        """Whether ``path`` is a file holding just this row's frame (a report may open it)."""
        return self.key is None and self.time_s is None

    @property
    def predicted(self) -> str | None:
        return None if self.result is None else self.result.pred


@dataclass
class GatedChunk:
    """What the gate produced for one ordered run of frames (picklable: Ray returns it).

    Per input item: ``times``, ``errors``, ``feature_ids`` (index into ``features``, -1
    for errors) and ``hows``; ``frame_times`` lists every frame the range holds."""

    times: list[float | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    feature_ids: list[int] = field(default_factory=list)
    hows: list[str | None] = field(default_factory=list)
    features: list[ScreenFeatures] = field(default_factory=list)
    thumbs: list[str | None] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def thumbnail(img: Image.Image, width: int = 200) -> str:
    """A small JPEG of ``img`` as a data URI (for reports)."""
    im = img.copy()
    im.thumbnail((width, width))
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def frame_key(video_hash: str, time_s: float, context: str) -> str:
    """Feature-store key of one video frame read under ``context`` (gate settings, range)."""
    return digest(f"video:{video_hash}:{time_s:.6f}:{context}")


def _near_tie(clf: ScreenClassifier) -> Callable[[ScreenFeatures], bool]:
    def confirm(feats: ScreenFeatures) -> bool:
        top = sorted(clf.classify_features([feats])[0].raw_scores.values(), reverse=True)
        return len(top) > 1 and top[0] - top[1] < CONFIRM_MARGIN

    return confirm


def gate_items(
    clf: ScreenClassifier,
    items: Iterable[tuple[float | None, str | None, Image.Image | LazyFrame | None, str | None]],
    options: GateOptions | None,
    thumbs: bool = False,
    batch_size: int = 16,
    store_partial: bool = True,
    on_read: Callable[[int, Image.Image], None] | None = None,
) -> GatedChunk:
    """Features for ordered items ``(time_s, store key or None, image, error)``.

    ``options`` None reads every frame in full, in batches (the per-frame baseline).
    Features read in full or in part are stored under the item's key; an item whose key
    the store already holds is not read again. ``store_partial`` False stores only full
    reads (keys that are content hashes must map to a full read of that content).
    ``on_read(feature_id, image)`` sees every frame whose features were read (not reused)."""
    out = GatedChunk()
    gate = ChangeGate(clf.encoder, options) if options is not None else None
    confirm = _near_tie(clf)
    pending: list[tuple[int, Image.Image]] = []

    def flush() -> None:
        if pending:
            feats = clf.encoder.encode([clf.encoder.prepare(im) for _, im in pending])
            clf.store.encodes += len(feats)
            for (pos, _), f in zip(pending, feats):
                out.feature_ids[pos] = len(out.features)
                out.features.append(f)
            pending.clear()

    last_id = -1
    for t, key, frame, err in items:
        out.times.append(t)
        out.errors.append(err)
        if frame is None:
            out.feature_ids.append(-1)
            out.hows.append(None)
            continue
        if gate is None:
            img = frame.load() if isinstance(frame, LazyFrame) else frame
            out.feature_ids.append(-1)
            out.hows.append("full")
            out.thumbs.append(thumbnail(img) if thumbs else None)
            if on_read is not None:
                on_read(len(out.features) + len(pending), img)
            pending.append((len(out.times) - 1, img))
            if len(pending) >= batch_size:
                flush()
            continue

        def lookup(key: str | None = key) -> ScreenFeatures | None:
            return clf.store.cached(key) if key is not None else None

        step = gate.step(frame, confirm=confirm, cached=lookup)
        if step.how != "reused" or last_id < 0:
            img = frame.load() if isinstance(frame, LazyFrame) else frame  # made once (cached) per frame
            if key is not None and (step.how == "full" or (step.how == "partial" and store_partial)):
                clf.store.put(key, step.features)
            clf.store.encodes += step.how in ("full", "partial")
            last_id = len(out.features)
            out.features.append(step.features)
            out.thumbs.append(thumbnail(img) if thumbs else None)
            if on_read is not None:
                on_read(last_id, img)
        out.feature_ids.append(last_id)
        out.hows.append(step.how)
    flush()
    if gate is not None:
        out.counts = {k: v for k, v in gate.counts.items() if v}
    else:
        out.counts = {"full": sum(h == "full" for h in out.hows)}
    return out


def gate_context(options: GateOptions | None, fps: float | None, start_s: float) -> str:
    """What gated features of a video frame depend on besides its pixels (store key part)."""
    return f"{options}:{fps}:{start_s:.6f}" if options is not None else "full"


def gate_video(
    clf: ScreenClassifier,
    path: str | Path,
    gate_options: GateOptions | None,
    fps: float | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
    video_hash: str | None = None,
    thumbs: bool = False,
    on_read: Callable[[int, Image.Image], None] | None = None,
) -> GatedChunk:
    """Decode ``path`` over [start_s, end_s) and gate its frames (see :func:`gate_items`)."""
    frame_times: list[float] = []
    context = gate_context(gate_options, fps, start_s)

    def items() -> Iterator[tuple[float | None, str | None, Image.Image | LazyFrame | None, str | None]]:
        scale = (gate_options or GateOptions.for_video()).scale
        for it in decode_video(path, fps=fps, start_s=start_s, end_s=end_s, frame_times=frame_times, scale=scale):
            key = frame_key(video_hash, it.time_s, context) if video_hash and it.frame is not None else None
            yield it.time_s, key, it.frame, it.error

    chunk = gate_items(clf, items(), gate_options, thumbs=thumbs, on_read=on_read)
    chunk.frame_times = frame_times
    return chunk


def video_rows(path: str | Path, chunks: list[GatedChunk], clf: ScreenClassifier) -> list[SequenceRow]:
    """One row per decoded (or sampled) frame and per run of lost frames, in time order;
    ``frame_index`` is the frame's position among all frames the video holds."""
    all_times = sorted(t for c in chunks for t in c.frame_times)
    rows: list[SequenceRow] = []
    for c in chunks:
        results = clf.classify_features(c.features) if c.features else []
        for t, err, fid, how in zip(c.times, c.errors, c.feature_ids, c.hows):
            assert t is not None
            i = bisect.bisect_left(all_times, t - 1e-6)
            if err is not None and (i >= len(all_times) or abs(all_times[i] - t) > 1e-6):
                i = len(all_times)  # after the last frame: the file ends there
            res = results[fid] if fid >= 0 else None
            thumb = c.thumbs[fid] if 0 <= fid < len(c.thumbs) else None
            rows.append(SequenceRow(str(path), i, t, res, err, how, thumb, fid))
    rows.sort(key=lambda r: (r.time_s or 0.0, r.error is not None))
    return rows


def source_items(
    clf: ScreenClassifier, frames: Iterable[Frame], context: str
) -> Iterator[tuple[float | None, str | None, Image.Image | LazyFrame | None, str | None]]:
    """Gate items of a recording's frames, in order: encoded bytes are keyed by content hash,
    decoded video frames by ``context`` (what their features depend on) and the frame key."""
    for f in frames:
        if f.error is not None:
            yield f.time_s, None, None, f.error
            continue
        try:
            data = f.load()
            if isinstance(data, LazyFrame):
                yield f.time_s, digest(f"frame:{context}:{f.key}:{f.time_s}"), data, None
            else:
                li = clf.load(data)
                yield f.time_s, li.content_hash, li.image, None
        except ScreenstateError as e:
            yield f.time_s, None, None, f"{f.key}: {e}"


def source_rows(frames: list[Frame], chunk: GatedChunk, clf: ScreenClassifier) -> list[SequenceRow]:
    """One row per frame of a gated recording (``frames`` as given to :func:`source_items`)."""
    results = clf.classify_features(chunk.features) if chunk.features else []
    return [
        SequenceRow(
            f.key,
            f.index,
            f.time_s,
            results[fid] if fid >= 0 else None,
            err,
            how,
            chunk.thumbs[fid] if 0 <= fid < len(chunk.thumbs) else None,
            fid,
            label=f.label,
            source_ordinal=f.source_ordinal,
            timestamp=f.timestamp,
            key=f.key if f.path is None else None,
        )
        for f, err, fid, how in zip(frames, chunk.errors, chunk.feature_ids, chunk.hows)
    ]


def folder_items(
    clf: ScreenClassifier, paths: list[Path]
) -> Iterator[tuple[float | None, str | None, Image.Image | LazyFrame | None, str | None]]:
    """Items of a flat image folder, in order: content hash as the key, unreadable files as errors."""
    for p in paths:
        try:
            li = clf.load(p)
            yield None, li.content_hash, li.image, None
        except ScreenstateError as e:
            yield None, None, None, str(e)


def folder_rows(paths: list[Path], chunk: GatedChunk, clf: ScreenClassifier) -> list[SequenceRow]:
    """One row per file of a gated flat folder."""
    results = clf.classify_features(chunk.features) if chunk.features else []
    return [
        SequenceRow(
            str(p),
            i,
            None,
            results[fid] if fid >= 0 else None,
            err,
            how,
            chunk.thumbs[fid] if 0 <= fid < len(chunk.thumbs) else None,
        )
        for i, (p, err, fid, how) in enumerate(zip(paths, chunk.errors, chunk.feature_ids, chunk.hows))
    ]
