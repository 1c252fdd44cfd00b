"""A video file (or a folder holding exactly one video) as a recording.

The file is probed once when opened (a bad file fails before any model loads) and decoded
once, in order, when its frames are iterated (``recordings/decode.py``; PyAV ships its own
FFmpeg). Frames carry their time from the stream start and their index among all frames
the file holds; a run of frames that does not decode is one error frame. A stream whose
declared frame size is over ``max_pixels`` is not decoded at all: each of its frames
(counted from packets) is an error frame.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from screenstate.recordings.decode import VideoInfo, decode_video, open_video, probe_video
from screenstate.recordings.frame import Frame

if TYPE_CHECKING:
    from screenstate.embeddings.gating import LazyFrame
    from screenstate.recordings.actions import Action


def packet_times(path: Path) -> list[float]:
    """Presentation times of every frame the file holds, from packets (no decoding)."""
    container, stream = open_video(path)
    out = []
    try:
        tb = stream.time_base
        start = float(stream.start_time * tb) if stream.start_time is not None else 0.0
        for p in container.demux(stream):
            if p.pts is not None and p.size > 0:
                out.append(round(float(p.pts * tb) - start, 6))
    except Exception:  # noqa: BLE001 - a damaged tail: the frames before it are counted
        pass
    finally:
        container.close()
    return sorted(out)


@dataclass(frozen=True)
class VideoFile:
    """A video as a :class:`~screenstate.recordings.frame.FrameSource`; ``fps`` keeps the
    first frame of every 1/fps s (None: every frame)."""

    root: str
    path: Path
    info: VideoInfo
    fps: float | None = None
    max_pixels: int | None = None
    scale: int = 4
    kind: str = "video"
    layout: str = "video"
    ordered: bool = True
    approximate_times: bool = False
    notes: tuple[str, ...] = ()

    @classmethod
    def open(cls, root: str | Path, path: Path, fps: float | None = None, max_pixels: int | None = None) -> VideoFile:
        return cls(str(root), path, probe_video(path), fps, max_pixels)

    @property
    def too_big(self) -> bool:
        """The declared frame size is over ``max_pixels`` (frames are not decoded)."""
        return self.max_pixels is not None and self.info.width * self.info.height > self.max_pixels

    def frames(self) -> Iterator[Frame]:
        key = str(self.path)
        if self.too_big:
            w, h = self.info.width, self.info.height
            why = (
                f"{key}: frames are {w}x{h} = {w * h} pixels, over the limit of {self.max_pixels} "
                "(--max-pixels); not decoded"
            )
            for i, t in enumerate(packet_times(self.path)):
                yield Frame(index=i, key=key, time_s=t, error=why)
            return
        times: list[float] = []
        for n, it in enumerate(decode_video(self.path, fps=self.fps, frame_times=times, scale=self.scale)):
            i = bisect.bisect_left(times, it.time_s - 1e-6)
            lf = it.frame
            yield Frame(
                index=i if it.error is None else max(i, n),
                key=key,
                time_s=it.time_s,
                error=it.error,
                pixels=_constant(lf) if lf is not None else None,
            )

    def actions(self) -> list[Action]:
        return []


def _constant(frame: LazyFrame) -> Callable[[], LazyFrame]:
    return lambda: frame
