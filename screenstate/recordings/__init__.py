"""Recordings: every kind of input a batch job, the review page, ``suggest`` or a replay
check reads, behind one :func:`open_recording`.

A recording is a :class:`FrameSource`: frames (:class:`Frame`: index, time, Unix timestamp
where known, source key, label, pixels or error) in recording order or as a labeled set,
plus the user's actions (:class:`Action`) where the recorder kept them. Kinds, tried in
this order (the first whose ``matches`` accepts the root opens it):

- ``uri``: ``s3://``, ``gs://``, ``file://``... (``recordings/uri.py``);
- ``openadapt``: a folder with ``recording.db`` (``recordings/openadapt.py``);
- ``flow``: an openadapt-flow recording, ``meta.json`` + ``events.jsonl`` (``recordings/flow.py``);
- ``video``: a video file, or a folder holding one video and no images (``recordings/video.py``);
- ``folder``: an image folder, flat or labeled (``recordings/folder.py``).

Adding a kind of recording is one module and one line in :data:`KINDS`. Recordings are
read-only: nothing here writes inside one.

    >>> [k.name for k in KINDS]
    ['uri', 'openadapt', 'flow', 'video', 'folder']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from screenstate.recordings.actions import Action
from screenstate.recordings.frame import LAYOUTS, Frame, FrameSource, RecordingError

__all__ = ["KINDS", "LAYOUTS", "Action", "Frame", "FrameSource", "Kind", "RecordingError", "open_recording"]


@dataclass(frozen=True)
class Kind:
    """One kind of recording: whether a root is one, and how to open it."""

    name: str
    matches: Callable[[str], bool]
    open: Callable[[str, int | None, float | None], FrameSource]


def _uri(root: str) -> bool:
    from screenstate.recordings.uri import is_uri

    return is_uri(root)


def _open_uri(root: str, max_pixels: int | None, fps: float | None) -> FrameSource:
    from screenstate.recordings.uri import UriFolder

    return UriFolder.open(root)


def _capture(root: str) -> bool:
    from screenstate.recordings.openadapt import is_capture

    return is_capture(Path(root))


def _open_capture(root: str, max_pixels: int | None, fps: float | None) -> FrameSource:
    from screenstate.recordings.openadapt import OpenAdaptCapture

    if fps is not None:
        raise RecordingError(f"--fps samples a video; {root} is an OpenAdapt capture (one frame per screenshot)")
    return OpenAdaptCapture.open(root, max_pixels)


def _flow(root: str) -> bool:
    from screenstate.recordings.flow import is_flow_recording

    return is_flow_recording(Path(root))


def _open_flow(root: str, max_pixels: int | None, fps: float | None) -> FrameSource:
    from screenstate.recordings.flow import FlowRecording

    return FlowRecording.open(root)


def _video(root: str) -> bool:
    from screenstate.recordings.decode import find_video

    return find_video(root) is not None


def _open_video(root: str, max_pixels: int | None, fps: float | None) -> FrameSource:
    from screenstate.recordings.decode import find_video
    from screenstate.recordings.video import VideoFile

    path = find_video(root)
    assert path is not None
    return VideoFile.open(root, path, fps, max_pixels)


def _open_folder(root: str, max_pixels: int | None, fps: float | None) -> FrameSource:
    from screenstate.recordings.folder import ImageFolder

    if fps is not None:
        raise RecordingError(f"--fps samples a video; --root {root} is an image recording (every file is a frame)")
    return ImageFolder.open(root)


#: the kinds of recording, most specific first (a capture folder also holds an MP4)
KINDS: tuple[Kind, ...] = (
    Kind("uri", _uri, _open_uri),
    Kind("openadapt", _capture, _open_capture),
    Kind("flow", _flow, _open_flow),
    Kind("video", _video, _open_video),
    Kind("folder", lambda root: True, _open_folder),
)


def open_recording(root: str | Path, max_pixels: int | None = None, fps: float | None = None) -> FrameSource:
    """The recording at ``root`` (see the module docstring for the kinds and their order).

    ``max_pixels``: frames of a video whose declared size is larger become error frames
    without being decoded; ``fps``: sample a video at this rate. Raises
    :class:`RecordingError` (or a subclass) naming what is wrong and the fix.
    """
    s = str(root)
    for kind in KINDS:
        if kind.matches(s):
            return kind.open(s, max_pixels, fps)
    raise RecordingError(f"{root}: not a recording")  # pragma: no cover - "folder" matches everything
