"""Recording layouts: flat ``ROOT/*.png`` (natural order = recording order) or labeled
``ROOT/<label>/*``. Every file that looks like a frame is listed, readable or not, so a
bad file is reported instead of silently skipped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from screenstate.errors import ScreenstateError
from screenstate.schema import IMAGE_SUFFIXES, natural_key

#: files listed as frames even though their suffix is not an image (reported as errors)
_IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
_SIDE_FILES = {".csv", ".json", ".jsonl", ".txt", ".md", ".parquet", ".html"}


@dataclass(frozen=True)
class Frame:
    """One input file; ``label`` is the directory name in the labeled layout."""

    path: Path
    label: str | None


def _is_frame_candidate(p: Path) -> bool:
    if not p.is_file() or p.name.startswith(".") or p.name.lower() in _IGNORED_NAMES:
        return False
    return p.suffix.lower() not in _SIDE_FILES


def discover_frames(root: str | Path) -> tuple[list[Frame], str]:
    """Frames under ``root`` and the layout name (``flat`` or ``labeled``).

    Flat when ``root`` itself holds frame files; labeled when it holds only directories.
    Non-image files next to frames (except side files such as labels.csv) are listed too,
    so the job reports them as unreadable.
    """
    root = Path(root)
    if not root.is_dir():
        raise ScreenstateError(f"--root {root}: not a directory")
    top = sorted((p for p in root.iterdir() if _is_frame_candidate(p)), key=natural_key)
    subdirs = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=natural_key)
    if top or not subdirs:
        frames = [Frame(p, None) for p in top]
        layout = "flat"
    else:
        frames = [
            Frame(p, d.name)
            for d in subdirs
            for p in sorted((q for q in d.rglob("*") if _is_frame_candidate(q)), key=natural_key)
        ]
        layout = "labeled"
    if not frames:
        raise ScreenstateError(
            f"--root {root}: no frames found (expected {', '.join(IMAGE_SUFFIXES[:4])} files, "
            "flat or in ROOT/<label>/ directories)"
        )
    return frames, layout
