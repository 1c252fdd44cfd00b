"""Recording layouts: flat ``ROOT/*.png`` (natural order = recording order) or labeled
``ROOT/<label>/*``. Every entry that could be a frame is listed, readable or not, so a
bad file is reported instead of silently skipped; what is not read (a directory inside a
flat recording, a hidden image, a directory cycle) is named in a warning and in the job's
summary (see :mod:`screenstate.batch.listing`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from screenstate.batch.listing import (
    Skipped,
    count_images,
    is_hidden,
    is_hidden_image,
    list_dir,
    log_skipped,
    walk_frames,
)
from screenstate.errors import ScreenstateError
from screenstate.schema import IMAGE_SUFFIXES


@dataclass(frozen=True)
class Frame:
    """One input file; ``label`` is the directory name in the labeled layout; ``error``
    says why it cannot be read when that is known from listing alone (a broken link, a FIFO)."""

    path: Path
    label: str | None
    error: str | None = None


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
    if top or not subdirs:
        frames = [Frame(e.path, None, e.problem) for e in top]
        layout = "flat"
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
        frames = [Frame(e.path, d.name, e.problem) for d in subdirs for e in walk_frames(d, skipped)]
        layout = "labeled"
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
