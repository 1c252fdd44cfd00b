"""Image folders: flat ``ROOT/*.png`` (natural order = recording order) or labeled
``ROOT/<label>/*`` (one layout rule, :func:`choose_layout`, also used for URIs). Every
entry that could be a frame is listed, readable or not, so a bad file is reported instead of silently skipped; what is not read (a directory inside a
flat recording, a hidden image, a directory cycle) is named in a warning and in the job's
summary (see :mod:`screenstate.recordings.listing`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from screenstate.errors import ScreenstateError
from screenstate.recordings.frame import Frame
from screenstate.recordings.listing import (
    Skipped,
    count_images,
    is_hidden,
    is_hidden_image,
    list_dir,
    log_skipped,
    walk_frames,
)
from screenstate.schema import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from screenstate.recordings.actions import Action


def choose_layout(has_top_frames: bool, has_subdirs: bool) -> str:
    """``flat`` when the root itself holds frame entries (or nothing else), ``labeled``
    when it holds only directories (one per label).

    >>> choose_layout(True, True), choose_layout(False, True), choose_layout(False, False)
    ('flat', 'labeled', 'flat')
    """
    return "flat" if has_top_frames or not has_subdirs else "labeled"


def file_frame(index: int, path: Path, label: str | None, error: str | None = None, key: str | None = None) -> Frame:
    """The frame of one image file (``error``: why it cannot be read, when listing knows)."""
    return Frame(index=index, key=key if key is not None else str(path), path=path, label=label, error=error)


@dataclass(frozen=True)
class Listing:
    """Frames of a recording, its layout, and the entries that are not read."""

    frames: list[Frame]
    layout: str
    skipped: list[Skipped] = field(default_factory=list)


def scan_root(root: str | Path) -> Listing:
    """Frames under ``root``, the layout name (``flat`` or ``labeled``) and named skips.

    Flat when ``root`` itself holds frame entries; labeled when it holds only directories.
    Non-image files next to frames (except side files such as labels.csv) are listed too,
    so the job reports them as unreadable. Skips are logged as warnings.
    """
    root = Path(root)
    if not root.is_dir():
        raise ScreenstateError(f"--root {root}: not a directory")
    entries = list_dir(root)
    skipped: list[Skipped] = [
        Skipped(e.path, "hidden file (name starts with '.'); rename it to include it")
        for e in entries
        if e.kind == "frame" and is_hidden_image(e.path)
    ]
    top = [e for e in entries if e.kind == "frame" and not is_hidden(e.path)]
    subdirs = [e.path for e in entries if e.kind == "dir" and not is_hidden(e.path)]
    layout = choose_layout(bool(top), bool(subdirs))
    if layout == "flat":
        frames = [file_frame(i, e.path, None, e.problem) for i, e in enumerate(top)]
        for d in subdirs:
            n = count_images(d)
            if n:
                skipped.append(
                    Skipped(
                        d,
                        f"directory with {n} image file(s) inside a flat recording: a flat layout reads only "
                        "files directly in ROOT; move them into ROOT, or use the labeled layout ROOT/<label>/*",
                    )
                )
    else:
        pairs = [(d.name, e) for d in subdirs for e in walk_frames(d, skipped)]
        frames = [file_frame(i, e.path, label, e.problem) for i, (label, e) in enumerate(pairs)]
    log_skipped(skipped)
    if not frames:
        raise ScreenstateError(
            f"--root {root}: no frames found (expected {', '.join(IMAGE_SUFFIXES[:4])} files, "
            "flat or in ROOT/<label>/ directories)"
            + (f"; not read: {'; '.join(s.describe() for s in skipped)}" if skipped else "")
        )
    return Listing(frames, layout, skipped)


def discover_frames(root: str | Path) -> tuple[list[Frame], str]:
    """Frames under ``root`` and the layout name (see :func:`scan_root`, which also returns
    the entries that are not read)."""
    listing = scan_root(root)
    return listing.frames, listing.layout


@dataclass(frozen=True)
class ImageFolder:
    """A local image folder as a :class:`~screenstate.recordings.frame.FrameSource`
    (listed once, when opened)."""

    root: str
    listing: Listing
    kind: str = "folder"
    approximate_times: bool = False

    @classmethod
    def open(cls, root: str | Path) -> ImageFolder:
        return cls(str(root), scan_root(root))

    @property
    def layout(self) -> str:
        return self.listing.layout

    @property
    def ordered(self) -> bool:
        return self.listing.layout == "flat"

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(f"not read: {s.describe()}" for s in self.listing.skipped)

    def frames(self) -> Iterator[Frame]:
        return iter(self.listing.frames)

    def actions(self) -> list[Action]:
        return []
