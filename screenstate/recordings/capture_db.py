"""Reading an OpenAdapt capture's ``recording.db`` read-only, with the standard ``sqlite3``.

openadapt-capture is not a dependency, and its own loader migrates old databases (adds
columns): never used here. The capture folder is never written: a sealed database is
opened ``immutable=1`` (SQLite then creates no ``-shm``/``-wal``/journal file beside it);
a capture still being written (or one that crashed) keeps recent rows in
``recording.db-wal``, which ``immutable`` would ignore, so the database and its log are
copied to a temporary folder and read there. Columns a capture predates read as None.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screenstate.recordings.actions import RawEvent
from screenstate.recordings.frame import RecordingError

DB_NAME = "recording.db"


@dataclass(frozen=True)
class CaptureMeta:
    """The ``recording`` row: when it started, the display, and how the capture was scoped."""

    recording_id: int
    timestamp: float | None
    monitor_width: int | None
    monitor_height: int | None
    pixel_ratio: float | None
    video_start_time: float | None
    double_click_interval: float
    double_click_distance: float
    config: dict[str, Any]

    @property
    def window(self) -> dict[str, Any] | None:
        w = self.config.get("capture_window")
        return w if isinstance(w, dict) else None

    @property
    def desktop(self) -> dict[str, Any] | None:
        d = self.config.get("capture_desktop")
        return d if isinstance(d, dict) else None


@dataclass(frozen=True)
class ShotRow:
    """One ``screenshot`` row (``has_png``: whether it keeps its PNG in the database)."""

    row_id: int
    source_ordinal: int | None
    timestamp: float
    has_png: bool


class CaptureDb:
    """A read-only connection to ``folder/recording.db`` that leaves ``folder`` byte-identical
    (see the module docstring); a WAL capture is read from a temporary copy, removed on
    :meth:`close` or when the object is collected. Safe to share between threads."""

    def __init__(self, folder: Path) -> None:
        db = folder / DB_NAME
        wal = folder / (DB_NAME + "-wal")
        self.copied = wal.exists() and wal.stat().st_size > 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if self.copied:
            self._tmp = tempfile.TemporaryDirectory(prefix="screenstate-capture-")
            copy = Path(self._tmp.name) / DB_NAME
            shutil.copyfile(db, copy)
            shutil.copyfile(wal, Path(self._tmp.name) / (DB_NAME + "-wal"))
            uri = f"{copy.as_uri()}?mode=ro"
        else:
            uri = f"{db.resolve().as_uri()}?mode=ro&immutable=1"
        self._lock = threading.Lock()
        try:
            self.con = _connect(uri, db)
        except BaseException:
            self.close()
            raise

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.con.execute(sql, args).fetchall()

    def close(self) -> None:
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _connect(uri: str, shown: Path) -> sqlite3.Connection:
    try:
        con = sqlite3.connect(uri, uri=True, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as e:
        raise RecordingError(f"{shown}: not a readable SQLite database ({e}); is the capture complete?") from e
    return con


def _columns(con: CaptureDb, table: str) -> set[str]:
    return {str(r[1]) for r in con.query(f"PRAGMA table_info({table})")}


def _col(cols: set[str], name: str) -> str:
    return name if name in cols else f"NULL AS {name}"


def read_meta(con: CaptureDb, folder: Path) -> CaptureMeta:
    """The capture's ``recording`` row (the original one when the database holds copies)."""
    cols = _columns(con, "recording")
    if not cols:
        raise RecordingError(f"{folder / DB_NAME}: has no 'recording' table: not an OpenAdapt capture database")
    want = ["id", "timestamp", "monitor_width", "monitor_height", "pixel_ratio", "video_start_time"]
    want += ["double_click_interval_seconds", "double_click_distance_pixels", "config", "original_recording_id"]
    rows = con.query(f"SELECT {', '.join(_col(cols, c) for c in want)} FROM recording ORDER BY id")
    rows = [r for r in rows if r["original_recording_id"] is None] or rows
    if not rows:
        raise RecordingError(f"{folder / DB_NAME}: holds no recording (the capture was never started?)")
    r = rows[0]
    try:
        config = json.loads(r["config"]) if isinstance(r["config"], str) else {}
    except json.JSONDecodeError:
        config = {}
    return CaptureMeta(
        int(r["id"]),
        _float(r["timestamp"]),
        r["monitor_width"],
        r["monitor_height"],
        _float(r["pixel_ratio"]),
        _float(r["video_start_time"]),
        _float(r["double_click_interval_seconds"]) or 0.5,
        _float(r["double_click_distance_pixels"]) or 5.0,
        config if isinstance(config, dict) else {},
    )


def _float(v: object) -> float | None:
    if v is None:
        return None
    if not isinstance(v, int | float | str):
        raise ValueError(f"not a number: {v!r}")
    return float(v)


def _order(row: Any) -> tuple[bool, float]:
    """Upstream's order: rows with a source ordinal by it, legacy rows by timestamp."""
    o = row["source_ordinal"]
    return (o is None, float(o) if o is not None else float(row["timestamp"] or 0.0))


def read_shots(con: CaptureDb, meta: CaptureMeta) -> list[ShotRow]:
    """Screenshot rows in recording order (the PNGs stay in the database until asked for)."""
    cols = _columns(con, "screenshot")
    if not cols:
        return []
    q = (
        f"SELECT id, {_col(cols, 'source_ordinal')}, timestamp, "
        f"{'png_data IS NOT NULL AND length(png_data) > 0' if 'png_data' in cols else '0'} AS has_png "
        "FROM screenshot WHERE recording_id = ?"
    )
    rows = sorted(con.query(q, (meta.recording_id,)), key=_order)
    return [ShotRow(int(r["id"]), r["source_ordinal"], float(r["timestamp"]), bool(r["has_png"])) for r in rows]


def read_png(con: CaptureDb, row_id: int) -> bytes:
    """The PNG bytes of one screenshot row."""
    rows = con.query("SELECT png_data FROM screenshot WHERE id = ?", (row_id,))
    return bytes(rows[0][0]) if rows and rows[0][0] is not None else b""


def read_raw_events(con: CaptureDb, meta: CaptureMeta) -> list[RawEvent]:
    """Raw input rows (``disabled`` ones left out, as upstream leaves them out), in recording order."""
    cols = _columns(con, "action_event")
    if not cols:
        return []
    want = ["source_ordinal", "name", "timestamp", "mouse_x", "mouse_y", "mouse_dx", "mouse_dy"]
    want += ["mouse_button_name", "mouse_pressed", "key_name", "key_char", "key_vk", "canonical_key_name"]
    want += ["canonical_key_char", "canonical_key_vk", "screenshot_source_ordinal", "after_screenshot_source_ordinal"]
    want += ["screenshot_timestamp", "after_screenshot_timestamp", "disabled", "parent_id"]
    q = f"SELECT {', '.join(_col(cols, c) for c in want)} FROM action_event WHERE recording_id = ?"
    rows = sorted(con.query(q, (meta.recording_id,)), key=_order)
    out = []
    for r in rows:
        if r["disabled"] or r["parent_id"] is not None:
            continue  # legacy merged rows keep their raw children under parent_id
        key = next(
            (r[k] for k in ("canonical_key_name", "key_name", "canonical_key_char", "key_char") if r[k]),
            r["canonical_key_vk"] or r["key_vk"],
        )
        out.append(
            RawEvent(
                r["source_ordinal"],
                float(r["timestamp"]),
                str(r["name"]),
                _float(r["mouse_x"]),
                _float(r["mouse_y"]),
                _float(r["mouse_dx"]),
                _float(r["mouse_dy"]),
                r["mouse_button_name"],
                None if r["mouse_pressed"] is None else bool(r["mouse_pressed"]),
                str(key).strip().lower() if key else None,
                r["key_char"] or r["canonical_key_char"],
                r["screenshot_source_ordinal"],
                r["after_screenshot_source_ordinal"],
                _float(r["screenshot_timestamp"]),
                _float(r["after_screenshot_timestamp"]),
            )
        )
    return out
