"""A list of questions asked of every frame of a recording: one answer row per (frame, question).

    screenstate ask --root RECORDING --questions questions.txt --output answers.csv

Each question goes through :class:`~screenstate.asking.Asker` (classifier, detector, OCR or
VLM route). Distinct frames only are asked: a frame whose pixels equal an earlier frame's
(or, in a video, differ from the last asked frame by no more than codec noise and a cursor,
the change gate's ``reuse_tiles``) gets that frame's answers copied, with ``copied_from``
naming it. Rows are appended and flushed frame by frame, so an interrupted run resumes where
it stopped (rows already in the output are kept and not asked again). A frame that cannot be
read gets one row per question with its error: no frame is dropped silently.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from screenstate.errors import ScreenstateError

COLUMNS = (
    "frame_index",
    "frame",
    "time_s",
    "question",
    "route",
    "answer",
    "evidence",
    "seconds",
    "copied_from",
    "error",
)


@dataclass(frozen=True)
class QuestionFrame:
    """One frame of a recording: its position, a source key (file name, or video and time),
    and a way to load its pixels, or the error that makes it unreadable."""

    index: int
    key: str
    time_s: float | None
    load: Callable[[], Image.Image] | None
    error: str | None = None


@dataclass(frozen=True)
class AnswerRow:
    """One (frame, question) answer as written to the CSV."""

    frame_index: int
    frame: str
    time_s: float | None
    question: str
    route: str
    answer: str
    evidence: str  # JSON
    seconds: float
    copied_from: int | None = None
    error: str = ""

    def cells(self) -> list[str]:
        return [
            str(self.frame_index),
            self.frame,
            "" if self.time_s is None else f"{self.time_s:.3f}",
            self.question,
            self.route,
            self.answer,
            self.evidence,
            f"{self.seconds:.4f}",
            "" if self.copied_from is None else str(self.copied_from),
            self.error,
        ]


@dataclass
class RunSummary:
    """What a run did: frames seen, frames asked, frames whose answers were copied,
    frames resumed from an earlier run, unreadable frames, rows written."""

    frames: int = 0
    asked: int = 0
    copied: int = 0
    resumed: int = 0
    failed: int = 0
    rows_written: int = 0
    seconds: float = 0.0
    routes: dict[str, int] = field(default_factory=dict)


def read_questions(path: str | Path) -> list[str]:
    """Questions from a text file: one per line; blank lines and ``#`` comments skipped,
    repeats kept once."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ScreenstateError(
            f"--questions {p}: cannot read it ({e}); give a UTF-8 text file, one question per line"
        ) from e
    out: list[str] = []
    for line in lines:
        q = line.strip()
        if q and not q.startswith("#") and q not in out:
            out.append(q)
    if not out:
        raise ScreenstateError(f"--questions {p}: no questions in it; write one question per line")
    return out


@dataclass(frozen=True)
class RecordingFrames:
    """The frames of a recording, in order, and whether they are decoded video (the
    repeat check then tolerates codec noise and a moving cursor)."""

    frames: Iterable[QuestionFrame]
    video: bool

    def __iter__(self) -> Iterator[QuestionFrame]:
        return iter(self.frames)


def _pixels(frame: Any) -> Image.Image:
    from screenstate.embeddings.gating import LazyFrame
    from screenstate.embeddings.images import load_image

    data = frame.load()
    return data.load() if isinstance(data, LazyFrame) else load_image(data)


def recording_frames(root: str | Path) -> RecordingFrames:
    """Frames of any recording :func:`~screenstate.recordings.open_recording` opens (image
    folders, URIs, videos, OpenAdapt captures, openadapt-flow recordings)."""
    from screenstate.recordings import open_recording

    source = open_recording(root)
    frames = (
        QuestionFrame(f.index, _name(f, Path(root)), f.time_s, functools.partial(_pixels, f), f.error)
        for f in source.frames()
    )
    return RecordingFrames(frames, source.layout in ("video", "capture"))


def _name(frame: Any, root: Path) -> str:
    """A frame file's path relative to the recording (``frame_000.png``, ``login/a.png``), else its key."""
    if frame.path is not None:
        try:
            return frame.path.relative_to(root).as_posix()
        except ValueError:
            pass
    return frame.key


def check_output(root: str | Path, output: str | Path) -> None:
    """A recording is read-only to us: refuse an output file inside it."""
    r, o = Path(root).resolve(), Path(output).resolve()
    if o == r or (r.is_dir() and o.is_relative_to(r)):
        raise ScreenstateError(
            f"--output {output} is inside the recording {root}, which screenstate never writes to; "
            "give a path outside it, e.g. --output answers.csv"
        )


def _read_existing(path: Path) -> tuple[list[list[str]], bool]:
    """Complete rows of an earlier run's output (a torn last row is dropped) and whether
    the file must be rewritten without it."""
    text = path.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return [], True
    if tuple(rows[0]) != COLUMNS:
        raise ScreenstateError(
            f"--output {path}: exists and is not a questions CSV (columns {rows[0][:4]}...); "
            "give a new file, or the output of an earlier `screenstate ask --root` run to resume it"
        )
    body = rows[1:]
    torn = not text.endswith("\n")
    if torn and body:
        body = body[:-1]  # the last row was cut short, possibly inside a cell
    good = [r for r in body if len(r) == len(COLUMNS)]
    torn = torn or len(good) != len(body)
    return good, torn


def _fingerprint(img: Image.Image) -> str:
    from screenstate.hashing import digest

    return digest(img.mode.encode() + repr(img.size).encode() + img.tobytes(), size=12)


class _Repeats:
    """Which earlier asked frame a frame repeats: same pixels anywhere before, or (videos)
    within the change gate's tolerance of the last asked frame."""

    def __init__(self, video: bool) -> None:
        from screenstate.embeddings.gating import GateOptions

        self.options = GateOptions.for_video() if video else GateOptions.exact()
        self.by_hash: dict[str, int] = {}
        self.anchor: tuple[Image.Image, int] | None = None

    def find(self, img: Image.Image) -> tuple[int | None, str]:
        from screenstate.embeddings.gating import changed_tiles

        fp = _fingerprint(img)
        if fp in self.by_hash:
            return self.by_hash[fp], fp
        if self.anchor is not None and self.options.reuse_tiles > 0:
            small_anchor, idx = self.anchor
            small = img.reduce(self.options.scale)
            if small.size == small_anchor.size:
                tiles = changed_tiles(small_anchor, small, self.options.scale, self.options.noise, img.size)
                if int(tiles.sum()) <= self.options.reuse_tiles:
                    return idx, fp
        return None, fp

    def remember(self, img: Image.Image, fp: str, index: int) -> None:
        self.by_hash.setdefault(fp, index)
        if self.options.reuse_tiles > 0:
            self.anchor = (img.reduce(self.options.scale), index)


def ask_recording(
    asker: Any,
    frames: Iterable[QuestionFrame],
    questions: list[str],
    output: str | Path,
    *,
    video: bool = False,
    gate: bool = True,
    progress: Callable[[int, RunSummary], None] | None = None,
) -> RunSummary:
    """Ask every question of every frame, writing one CSV row per (frame, question) to
    ``output`` (see the module docstring); ``progress(frame_index, summary)`` after each frame."""
    out = Path(output)
    done: dict[tuple[str, str, str], list[str]] = {}
    if out.exists():
        rows, torn = _read_existing(out)
        done = {(r[0], r[1], r[3]): r for r in rows}
        if torn:
            from screenstate.atomic import atomic_write

            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows([list(COLUMNS), *rows])
            atomic_write(out, buf.getvalue())
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(",".join(COLUMNS) + "\n", encoding="utf-8")
    summary = RunSummary()
    repeats = _Repeats(video)
    answers: dict[int, list[AnswerRow]] = {}  # asked frame -> its rows (for copies)
    t_start = time.perf_counter()
    with out.open("a", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        for fr in frames:
            summary.frames += 1
            todo = [q for q in questions if (str(fr.index), fr.key, q) not in done]
            if not todo:
                summary.resumed += 1
            else:
                new = _frame_rows(asker, fr, todo, repeats, answers, gate, summary)
                writer.writerows(r.cells() for r in new)
                fh.flush()
                summary.rows_written += len(new)
            if progress is not None:
                progress(fr.index, summary)
    summary.seconds = time.perf_counter() - t_start
    return summary


def _frame_rows(
    asker: Any,
    fr: QuestionFrame,
    questions: list[str],
    repeats: _Repeats,
    answers: dict[int, list[AnswerRow]],
    gate: bool,
    summary: RunSummary,
) -> list[AnswerRow]:
    def failed(err: str) -> list[AnswerRow]:
        summary.failed += 1
        return [AnswerRow(fr.index, fr.key, fr.time_s, q, "", "", "{}", 0.0, None, err) for q in questions]

    if fr.error is not None or fr.load is None:
        return failed(fr.error or "frame could not be decoded")
    try:
        img = fr.load().convert("RGB")
    except Exception as e:  # noqa: BLE001 - any unreadable frame becomes its own rows, never a crash
        return failed(f"cannot read frame: {e}")
    source, fp = repeats.find(img) if gate else (None, "")
    if source is not None:
        prior = {r.question: r for r in answers.get(source, [])}
        if all(q in prior for q in questions):
            summary.copied += 1
            return [
                AnswerRow(
                    fr.index, fr.key, fr.time_s, q, prior[q].route, prior[q].answer, prior[q].evidence, 0.0, source
                )
                for q in questions
            ]
    rows = []
    for q, ans, seconds, err in asker.ask_all(img, questions):
        if ans is None:
            rows.append(AnswerRow(fr.index, fr.key, fr.time_s, q, "", "", "{}", seconds, None, err))
            continue
        summary.routes[ans.path] = summary.routes.get(ans.path, 0) + 1
        evidence = json.dumps(ans.evidence, default=str, sort_keys=True)
        rows.append(AnswerRow(fr.index, fr.key, fr.time_s, q, ans.path, ans.text, evidence, seconds))
    summary.asked += 1
    answers[fr.index] = rows
    if gate:
        repeats.remember(img, fp, fr.index)
    return rows
