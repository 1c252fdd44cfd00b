"""What every kind of recording gives: :class:`Frame` items from a :class:`FrameSource`.

A frame knows where it is in its recording (``index``, ``time_s``, Unix ``timestamp``
where the recording says, a ``source_ordinal`` where the recorder numbers its events),
its ``label`` where the layout gives one, and either a way to load its pixels or the
``error`` that says why it cannot be read. Pixels are loaded only when asked for::

    >>> f = Frame(index=0, key="a.png", error="a.png: empty file (0 bytes)")
    >>> f.ok, f.source_key
    (False, 'a.png')
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from screenstate.errors import ScreenstateError

if TYPE_CHECKING:
    from screenstate.embeddings.gating import LazyFrame
    from screenstate.recordings.actions import Action

#: how a recording's frames are laid out (what outputs and metrics can rely on)
LAYOUTS = ("flat", "labeled", "video", "capture")


class RecordingError(ScreenstateError):
    """A recording cannot be used at all (missing, empty, of no known kind)."""


@dataclass(frozen=True)
class Frame:
    """One frame of a recording (see the module docstring).

    ``key`` names the frame in outputs (a file path, a URI, ``CAPTURE#ordinal``);
    ``path`` is a file holding exactly this frame's bytes (image folders, URIs), else None;
    ``pixels`` returns the frame's encoded bytes (content-hashed by the feature store) or a
    decoded :class:`~screenstate.embeddings.gating.LazyFrame` (video)."""

    index: int
    key: str
    path: Path | None = None
    time_s: float | None = None
    timestamp: float | None = None
    source_ordinal: int | None = None
    label: str | None = None
    error: str | None = None
    pixels: Callable[[], bytes | LazyFrame] | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """True when the frame has pixels to load (no error known yet)."""
        return self.error is None and (self.pixels is not None or self.path is not None)

    @property
    def source_key(self) -> str:
        """The recorder's name for the frame: its source ordinal when there is one, else its key."""
        return str(self.source_ordinal) if self.source_ordinal is not None else self.key

    @property
    def file(self) -> Path:
        """``path`` for frames that are files (image folders, URIs); an error for the others."""
        if self.path is None:
            raise ScreenstateError(f"{self.key}: this frame is not a file of its own")
        return self.path

    def load(self) -> bytes | LazyFrame:
        """The frame's bytes (or decoded video frame); raises with the frame's error."""
        if self.error is not None:
            raise ScreenstateError(self.error)
        if self.pixels is not None:
            return self.pixels()
        if self.path is not None:
            from screenstate.embeddings.images import read_image_file

            return read_image_file(self.path)
        raise ScreenstateError(f"{self.key}: no pixels")


@runtime_checkable
class FrameSource(Protocol):
    """A recording: frames in recording order (``ordered``) or a labeled set, plus the
    user's actions where the recorder kept them.

    ``kind`` names the implementation (``folder``, ``uri``, ``video``, ``openadapt``,
    ``flow``), ``layout`` one of :data:`LAYOUTS`; ``approximate_times`` is True when frame
    times were estimated rather than recorded; ``notes`` are facts a user should read
    (approximate times, window capture, entries not read)."""

    @property
    def root(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def layout(self) -> str: ...
    @property
    def ordered(self) -> bool: ...
    @property
    def approximate_times(self) -> bool: ...
    @property
    def notes(self) -> tuple[str, ...]: ...

    def frames(self) -> Iterator[Frame]:
        """Every frame once, in order; decoding happens as the iterator advances."""
        ...

    def actions(self) -> list[Action]:
        """The user's actions (empty for recordings that keep none)."""
        ...
