"""Video recordings as input: find the video, decode it with PyAV, report what went wrong.

``--root`` may be a video file (MP4, MKV, WebM, MOV, AVI, ...) or a directory holding one
(an OpenAdapt capture: ``oa_recording-*.mp4`` beside ``recording.db``). PyAV ships its
own FFmpeg, so no system ffmpeg is needed.

    for item in decode_video("rec.mp4", fps=2):      # VideoItem(time_s, frame, error)
        ...

Times are the frames' presentation timestamps in seconds from the stream start (variable
frame rate is honoured). ``fps`` keeps the first frame of every 1/fps-second bucket.
A decode failure becomes an item with ``error`` naming the time and the cause; a file
that ends before its header says it should is reported the same way after its last frame.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screenstate.embeddings.gating import LazyFrame
from screenstate.errors import ScreenstateError
from screenstate.schema import IMAGE_SUFFIXES, natural_key

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".flv", ".ts", ".mpg", ".mpeg", ".wmv", ".ogv")
SUPPORTED = (
    "containers MP4/MOV, MKV/WebM, AVI, MPEG-TS, FLV, Ogg; codecs H.264, H.265/HEVC, VP8, VP9, "
    "AV1, MPEG-4, MJPEG (what PyAV's bundled FFmpeg decodes)"
)
#: a frame later than this fraction of the declared duration counts as the end of the file
_END_TOLERANCE_S = 0.5


class VideoError(ScreenstateError):
    """A video cannot be used at all (missing, empty, not a video, no frames)."""


@dataclass(frozen=True)
class VideoItem:
    """One decoded frame (``frame``: its pixels, made on demand) or a decode failure
    (``error``) at ``time_s``. Frames are numbered by the caller from ``frame_times``."""

    time_s: float
    frame: LazyFrame | None
    error: str | None = None


def lazy_frame(frame: Any, scale: int) -> LazyFrame:
    """A decoded frame whose full RGB image is converted only when asked for; its small
    copy (for change gating) comes from FFmpeg's scaler (area filter, one pass)."""
    w, h = frame.width, frame.height
    small = frame.reformat(width=max(1, w // scale), height=max(1, h // scale), format="rgb24", interpolation="AREA")
    return LazyFrame((w, h), small.to_image(), functools.cache(frame.to_image))


def find_video(root: str | Path) -> Path | None:
    """The video to classify under ``root``, or None when ``root`` is an image recording.

    A file is taken as a video unless it is an image; a directory is a video capture when
    it holds ``oa_recording-*.mp4`` (OpenAdapt), or exactly one video and no image frames.
    """
    root = Path(root)
    if root.is_file():
        if root.suffix.lower() in IMAGE_SUFFIXES:
            raise VideoError(f"--root {root}: is one image; use `screenstate classify {root}` or give its directory")
        return root
    if not root.is_dir():
        if root.suffix.lower() in VIDEO_SUFFIXES:
            raise VideoError(f"--root {root}: file not found")
        return None
    try:
        files = [p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
    except OSError:
        return None
    oa = sorted(
        (p for p in files if p.name.startswith("oa_recording-") and p.suffix.lower() == ".mp4"), key=natural_key
    )
    videos = oa or sorted((p for p in files if p.suffix.lower() in VIDEO_SUFFIXES), key=natural_key)
    if not videos or (not oa and any(p.suffix.lower() in IMAGE_SUFFIXES for p in files)):
        return None
    if len(videos) > 1:
        names = ", ".join(p.name for p in videos[:6])
        raise VideoError(f"--root {root}: holds {len(videos)} videos ({names}); pass one of them as --root")
    return videos[0]


@dataclass(frozen=True)
class VideoInfo:
    """What the container header says about the first video stream."""

    path: Path
    codec: str
    width: int
    height: int
    duration_s: float | None
    frames: int | None  # declared frame count (0 or None when the container does not say)
    average_fps: float | None


def open_video(path: str | Path) -> tuple[Any, Any]:
    """(container, first video stream), or :class:`VideoError` naming the file and the fix."""
    import av

    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes): a zero-length video has no frames to classify")
    try:
        container = av.open(str(path))
    except av.error.EOFError as e:
        raise VideoError(f"{path}: holds no video frames (a zero-length video: it ends before its first frame)") from e
    except av.error.FFmpegError as e:
        raise VideoError(
            f"{path}: not a video FFmpeg can open ({_cause(e)}); supported: {SUPPORTED}. An MP4 whose recording "
            "was interrupted lacks its index (moov atom): remux what was written or record to MKV"
        ) from e
    streams = list(container.streams.video)
    if not streams:
        others = len(container.streams)
        container.close()
        if not others:
            raise VideoError(f"{path}: holds no video frames (a zero-length video: no stream has any data)")
        raise VideoError(f"{path}: has no video stream (audio or data only); supported: {SUPPORTED}")
    stream = streams[0]
    try:
        stream.codec_context  # noqa: B018 - raises when FFmpeg has no decoder for the codec
    except av.error.FFmpegError as e:  # pragma: no cover - depends on the FFmpeg build
        container.close()
        raise VideoError(f"{path}: no decoder for its video codec ({_cause(e)}); supported: {SUPPORTED}") from e
    stream.thread_type = "AUTO"
    return container, stream


def probe_video(path: str | Path) -> VideoInfo:
    """Header facts of a video (no decoding)."""
    container, stream = open_video(path)
    try:
        tb = stream.time_base
        dur = float(stream.duration * tb) if stream.duration is not None and tb is not None else None
        if dur is None and container.duration is not None:
            dur = container.duration / 1_000_000
        rate = float(stream.average_rate) if stream.average_rate else None
        return VideoInfo(Path(path), stream.codec_context.name, stream.width, stream.height, dur, stream.frames, rate)
    finally:
        container.close()


def keyframe_times(path: str | Path) -> list[float]:
    """Presentation times (s, from the stream start) of the keyframes, read from packets
    without decoding: where a decoder can start, so where a video can be split."""
    container, stream = open_video(path)
    out = []
    try:
        start = _start(stream)
        for packet in container.demux(stream):
            if packet.is_keyframe and packet.pts is not None:
                out.append(float(packet.pts * stream.time_base) - start)
    except Exception:  # noqa: BLE001 - a damaged tail is reported by decode_video, not here
        pass
    finally:
        container.close()
    return sorted(out)


def _start(stream: Any) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _cause(e: BaseException) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return str(msg).strip() or type(e).__name__


def decode_video(
    path: str | Path,
    fps: float | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
    frame_times: list[float] | None = None,
    scale: int = 4,
) -> Iterator[VideoItem]:
    """Frames of ``path`` with presentation time in [start_s, end_s), in order, then one
    error item per run of frames that could not be decoded (see the module docstring).

    ``start_s`` should be a keyframe time (see :func:`keyframe_times`); the decoder seeks to
    the keyframe at or before it. ``frame_times`` collects the time of every frame the
    container holds in the range, decodable or not (callers number frames with it);
    ``scale``: how much each frame's comparison copy is shrunk.
    """
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise VideoError(f"--fps must be a positive number, got {fps}")
    container, stream = open_video(path)
    path = Path(path)
    times: list[float] = frame_times if frame_times is not None else []
    try:
        start, tb = _start(stream), stream.time_base
        if start_s > 0:
            container.seek(int(round((start_s + start) / tb)), stream=stream, backward=True, any_frame=False)
        decoded: set[float] = set()
        kept_buckets: set[int] = set()
        last_time = start_s
        read_error = None
        packets = container.demux(stream)

        def in_range(t: float) -> bool:
            return t >= start_s - 1e-6 and (end_s is None or t < end_s - 1e-6)

        done = False
        while not done:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av_errors() as e:
                read_error = _cause(e)
                break
            if packet.pts is not None and packet.size > 0:
                t = round(float(packet.pts * tb) - start, 6)
                if in_range(t):
                    times.append(t)
            try:
                frames = packet.decode()
            except av_errors():
                continue  # the frame is reported below as not decodable
            for frame in frames:
                t = round(float(frame.pts * tb) - start, 6) if frame.pts is not None else last_time
                if end_s is not None and t >= end_s - 1e-6:
                    done = True  # frames come in presentation order: the range is complete
                    break
                if not in_range(t):
                    continue
                decoded.add(t)
                last_time = t
                if fps is not None:
                    bucket = math.floor(t * fps + 1e-6)
                    if bucket in kept_buckets:
                        continue
                    kept_buckets.add(bucket)
                yield VideoItem(t, lazy_frame(frame, scale))
        times.sort()
        if not times and start_s == 0:
            raise VideoError(f"{path}: holds no video frames (a zero-length video)")
        if not decoded and start_s == 0:
            raise VideoError(
                f"{path}: none of its {len(times)} frames could be decoded (damaged file?); supported: {SUPPORTED}"
            )
        yield from _lost_runs(path, times, decoded, read_error, fps, kept_buckets)
        declared = _declared_duration(container, stream)
        gap = 1.0 / float(stream.average_rate) if stream.average_rate else 0.0
        end = times[-1] if times else start_s
        if end_s is None and (read_error or (declared is not None and end + gap < declared - _END_TOLERANCE_S)):
            why = f"reading failed: {read_error}" if read_error else f"its header says {declared:.3f} s"
            yield VideoItem(
                end,
                None,
                f"{path}: video ends after {end:.3f} s ({why}): truncated or damaged file; earlier frames were classified",
            )
    finally:
        container.close()


def _lost_runs(
    path: Path, times: list[float], decoded: set[float], read_error: str | None, fps: float | None, kept: set[int]
) -> Iterator[VideoItem]:
    """One error item per run of consecutive frames that are in the file but did not decode."""
    run: list[float] = []

    def flush() -> Iterator[VideoItem]:
        if run:
            span = f"{run[0]:.3f} s" if len(run) == 1 else f"{run[0]:.3f}-{run[-1]:.3f} s"
            yield VideoItem(run[0], None, f"{path}: {len(run)} frame(s) at {span} could not be decoded (damaged data)")
            run.clear()

    for t in times:
        lost = t not in decoded and (fps is None or math.floor(t * fps + 1e-6) not in kept)
        if lost:
            run.append(t)
        elif t in decoded:
            yield from flush()
    yield from flush()


def _declared_duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return None


def av_errors() -> tuple[type[BaseException], ...]:
    """Exceptions PyAV raises for damaged input."""
    import av

    return (av.error.FFmpegError, OSError, EOFError, ValueError)
