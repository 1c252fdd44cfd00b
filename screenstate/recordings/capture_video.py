"""The frames of an OpenAdapt capture's MP4 that stand for its screenshots (decoded once).

:func:`plan` binds each screenshot row to an encoded frame index (timing box, or the
recorder's own placement rule without it); :func:`video_frames` decodes the video in one
pass and yields a frame for each binding, converting only those frames (the padding
copies between screenshots are decoded, as H.264 needs, but never converted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from screenstate.recordings.capture_db import ShotRow
from screenstate.recordings.frame import Frame

if TYPE_CHECKING:
    from screenstate.embeddings.gating import LazyFrame
    from screenstate.recordings.openadapt import OpenAdaptCapture

#: how the recorder writes captures (openadapt-capture's DEFAULT_FPS), used without a timing box
RECORDER_FPS = 24.0


@dataclass(frozen=True)
class Binding:
    """A screenshot and the encoded frame that holds it (None: the video does not)."""

    shot: ShotRow
    encoded: int | None
    timestamp: float | None  # exact capture time from the box, None: take the row's / estimate


def plan(src: OpenAdaptCapture, fps: float) -> list[Binding]:
    """Each screenshot row with its encoded frame index, in recording order."""
    box, shots = src.timing, src.shots
    if box is None:
        start = src.meta.video_start_time if src.meta.video_start_time is not None else shots[0].timestamp
        out, last, first = [], -1, None
        for s in shots:  # openadapt_capture.video.write_video_frame's placement
            pts = max(int(max(s.timestamp - start, 0.0) * fps), last + 1)
            first = pts if first is None else first
            last = pts
            out.append(Binding(s, pts - first, None))
        return out
    idx_of: dict[int, int] = {}  # shot position -> encoded index
    if box.sources is not None:
        pos = {s.source_ordinal: i for i, s in enumerate(shots) if s.source_ordinal is not None}
        idx_of = {pos[o]: e for e, o in box.sources.items() if o in pos}
    elif box.captures is not None:
        by_time = {round(s.timestamp, 3): i for i, s in enumerate(shots)}
        idx_of = {by_time[round(t, 3)]: e for e, t in box.captures.items() if round(t, 3) in by_time}
    else:
        idx_of = dict(enumerate(sorted(box.frames)))
    caps = box.captures or {}
    return [Binding(s, idx_of.get(i), caps.get(idx_of[i]) if i in idx_of else None) for i, s in enumerate(shots)]


def _decoded(container: Any, stream: Any, fps: float) -> Iterator[tuple[int, float, Any, str | None]]:
    """(encoded index, seconds, av frame or None, error) in order; a read error ends it."""
    from screenstate.recordings.decode import av_errors

    tb = stream.time_base
    start = float(stream.start_time * tb) if stream.start_time is not None else 0.0
    n = 0
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av_errors() as e:
                t = float(packet.pts * tb) - start if packet.pts is not None else n / fps
                yield round(t * fps), t, None, f"could not be decoded ({e})"
                continue
            for fr in frames:
                t = float(fr.pts * tb) - start if fr.pts is not None else n / fps
                n += 1
                bad = "is damaged (the decoder concealed errors in it)" if getattr(fr, "is_corrupt", False) else None
                yield round(t * fps), t, fr, bad
    except av_errors() as e:
        yield -1, -1.0, None, f"video unreadable from here on ({e})"


def video_frames(src: OpenAdaptCapture) -> Iterator[Frame]:
    """Frames of the capture's video for its screenshots, in recording order."""
    from screenstate.embeddings.gating import GateOptions
    from screenstate.recordings.decode import lazy_frame, open_video

    assert src.video is not None
    container, stream = open_video(src.video)
    try:
        fps = src.timing.fps if src.timing is not None else float(stream.average_rate or RECORDER_FPS)
        bindings = plan(src, fps)
        t0 = bindings[0].timestamp if bindings[0].timestamp is not None else bindings[0].shot.timestamp
        w, h = stream.width, stream.height
        too_big = src.max_pixels is not None and w * h > src.max_pixels
        start = src.meta.video_start_time if src.meta.video_start_time is not None else t0
        decoded = _decoded(container, stream, fps) if not too_big else iter(())
        cur: tuple[int, float, Any, str | None] | None = None
        scale = GateOptions.for_video().scale
        for i, b in enumerate(bindings):
            key = src._key(b.shot)
            err: str | None = None
            secs = None
            if too_big:
                err = (
                    f"{key}: the video's frames are {w}x{h} = {w * h} pixels, over the limit of {src.max_pixels} "
                    "(--max-pixels); not decoded"
                )
            elif b.encoded is None:
                err = f"{key}: screenshot is not in {src.video.name} (the capture was cut short or its video is incomplete)"
            else:
                while cur is None or (cur[0] < b.encoded and cur[0] >= 0):
                    cur = next(decoded, (-1, -1.0, None, "the video ends before this frame (cut short?)"))
                if cur[0] != b.encoded:
                    why = cur[3] if cur[0] < 0 else "is missing from the video stream"
                    err = f"{key}: encoded frame {b.encoded} {why}"
                    if cur[0] < 0:
                        cur = (-1, -1.0, None, cur[3])
                elif cur[3] is not None or cur[2] is None:
                    err = f"{key}: encoded frame {b.encoded} {cur[3] or 'could not be decoded'}"
                secs = cur[1] if cur[0] == b.encoded else None
            exact = b.timestamp
            ts = exact if exact is not None else (start + secs if secs is not None else b.shot.timestamp)
            pixels: Callable[[], LazyFrame] | None = None
            if err is None and cur is not None:
                pixels = _constant(lazy_frame(cur[2], scale))
            yield Frame(
                index=i,
                key=key,
                time_s=ts - t0,
                timestamp=ts,
                source_ordinal=b.shot.source_ordinal,
                error=err,
                pixels=pixels,
            )
    finally:
        container.close()


def _constant(frame: LazyFrame) -> Callable[[], LazyFrame]:
    return lambda: frame
