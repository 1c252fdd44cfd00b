"""The timing box openadapt-capture appends to its MP4s (``openadapt.capture-video-timing/v1``).

The recorder writes the video at a fixed rate (24 fps) and repeats the last screenshot to
fill the gaps, so most encoded frames are padding. A top-level MP4 ``uuid`` box (ignored
by players) says which encoded frames stand for a retained screenshot:

- ``frames``: ``[encoded index, seconds from the first frame]`` for every staged screenshot;
- ``captures``: ``[encoded index, Unix time the screenshot was taken]``;
- ``sources``: ``[encoded index, source_ordinal]`` (the recorder's event journal position,
  the key ``screenshot.source_ordinal`` and ``action_event.screenshot_source_ordinal`` use).

Read without decoding, walking top-level boxes only (the payload is bounded at 16 MiB,
as upstream bounds it)::

    >>> read_timing_box(Path("/nonexistent.mp4")) is None
    True
"""

from __future__ import annotations

import json
import math
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

from screenstate.errors import ScreenstateError

TIMING_SCHEMA = "openadapt.capture-video-timing/v1"
TIMING_UUID = uuid.UUID("d8e90f06-20b4-4e0c-b449-4f70656e4164").bytes
MAX_PAYLOAD = 16 * 1024 * 1024


class TimingBoxError(ScreenstateError):
    """The MP4 has a timing box that cannot be trusted (invalid JSON, unordered entries)."""


@dataclass(frozen=True)
class TimingBox:
    """The parsed box: ``frames`` index -> stream seconds, ``captures`` index -> Unix
    time (None for media recorded before exact binding), ``sources`` index -> source
    ordinal (None likewise)."""

    fps: float
    frames: dict[int, float]
    captures: dict[int, float] | None
    sources: dict[int, int] | None

    def retained(self) -> list[int]:
        """Encoded indexes that stand for a retained screenshot (the rest is padding):
        those bound to a source ordinal, else to a capture time, else every staged frame."""
        if self.sources is not None:
            return sorted(self.sources)
        if self.captures is not None:
            return sorted(self.captures)
        return sorted(self.frames)


def _pairs(payload: dict[str, object], name: str, path: Path) -> list[tuple[int, float]] | None:
    raw = payload.get(name)
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise TimingBoxError(f"{path}: timing box {name!r} is not a list")
    out: list[tuple[int, float]] = []
    for entry in raw:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], int)):
            raise TimingBoxError(f"{path}: timing box {name!r} has an invalid entry {entry!r}")
        value = float(entry[1])
        if not math.isfinite(value) or (out and entry[0] <= out[-1][0]):
            raise TimingBoxError(f"{path}: timing box {name!r} is not ordered by encoded index")
        out.append((entry[0], value))
    return out


def _payload(path: Path) -> bytes | None:
    size = path.stat().st_size
    with path.open("rb") as f:
        offset = 0
        while offset + 8 <= size:
            f.seek(offset)
            size32, box_type = struct.unpack(">I4s", f.read(8))
            header = 8
            if size32 == 1:
                ext = f.read(8)
                if len(ext) != 8:
                    return None
                box_size, header = struct.unpack(">Q", ext)[0], 16
            elif size32 == 0:
                box_size = size - offset
            else:
                box_size = size32
            if box_size < header or offset + box_size > size:
                return None  # a cut-short file: no (complete) box
            if box_type == b"uuid" and box_size >= header + 16 and f.read(16) == TIMING_UUID:
                n = box_size - header - 16
                if n > MAX_PAYLOAD:
                    raise TimingBoxError(f"{path}: timing box of {n} bytes exceeds {MAX_PAYLOAD}")
                return f.read(n)
            offset += box_size
    return None


def read_timing_box(path: Path) -> TimingBox | None:
    """The timing box of ``path``, or None when it has none (older or crashed captures)."""
    try:
        raw = _payload(path)
    except OSError:
        return None
    if raw is None:
        return None
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TimingBoxError(f"{path}: timing box is not valid JSON ({e})") from e
    if not isinstance(payload, dict) or payload.get("schema") != TIMING_SCHEMA:
        raise TimingBoxError(f"{path}: timing box has an unknown schema (expected {TIMING_SCHEMA})")
    try:
        num, _, den = str(payload["fps"]).partition("/")
        fps = float(num) / float(den or 1)
    except (KeyError, ValueError, ZeroDivisionError) as e:
        raise TimingBoxError(f"{path}: timing box has an invalid fps") from e
    frames = _pairs(payload, "frames", path) or []
    captures = _pairs(payload, "captures", path)
    sources = _pairs(payload, "sources", path)
    return TimingBox(
        fps,
        dict(frames),
        dict(captures) if captures is not None else None,
        {i: int(o) for i, o in sources} if sources is not None else None,
    )
