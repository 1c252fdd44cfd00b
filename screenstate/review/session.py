"""A review session: one recording, one class file, features held in memory.

Frames are encoded once (through the classifier's memory and disk caches); every later
change to the class file — a corrected label, an edit, an undo — re-scores the whole
recording from those features, with no OCR or image encoding::

    s = ReviewSession("examples/recording", "configs/demo_states.json", cache="demo_out/cache")
    s.frames[3].result.pred, s.queue(5), s.segments()
    s.label(3, "login_page", negative=True)      # exemplar + re-score
    s.undo()
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screenstate.batch.metrics import LabelAccuracy, score_labels
from screenstate.batch.segments import Segment, find_segments
from screenstate.classify import ScreenClassifier
from screenstate.embeddings.cache import FeatureCache, default_cache_dir
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.factory import EncoderOptions
from screenstate.embeddings.features import ScreenFeatures
from screenstate.embeddings.images import load_image
from screenstate.errors import ScreenstateError, UnknownNameError
from screenstate.evidence import ClassEvidence, explain
from screenstate.recordings import Frame, FrameSource, open_recording
from screenstate.recordings.video import VideoFile
from screenstate.results import ClassificationResult
from screenstate.review.classfile import ClassFile, Edit, LabelChange
from screenstate.review.csvtext import csv_text, read_truth, seconds
from screenstate.review.reach import Reach, Results, classify_all, plan
from screenstate.schema import ClassSpec

#: what CSV exports and accuracy call a frame below every min_score
NONE_LABEL = "unknown"
Changed = tuple[int, ...]  # frames whose state a change changed


@dataclass(frozen=True)
class ReviewFrame:
    """One frame of the recording and its current classification.

    ``time_s`` is the frame's time in a video and None for image folders; ``truth`` comes
    from a labeled layout or ``ROOT/labels.csv`` (``frame,state``) when there is one;
    ``correction`` is the state the user saved for it in this session.
    """

    index: int
    path: Path
    time_s: float | None
    content_hash: str | None
    error: str | None
    result: ClassificationResult | None
    truth: str | None = None
    correction: str | None = None  # None also when corrected to "none of the above"
    corrected: bool = False

    @property
    def margin(self) -> float | None:
        """Raw-score gap between the two best classes (small = uncertain)."""
        if self.result is None:
            return None
        top = [v for _, v in self.result.top(2)]
        return top[0] - top[1] if len(top) > 1 else 1.0

    @property
    def state_label(self) -> str:
        if self.result is None:
            return "<unreadable>"
        return self.result.state or NONE_LABEL


@dataclass(frozen=True)
class ReviewAction:
    """A user action on the page's timeline: when (s from the first frame), what, and the
    frames it is bound to (indices; None where the recording binds none)."""

    index: int
    time_s: float
    kind: str
    text: str
    before: int | None
    after: int | None


@dataclass(frozen=True)
class LabelOutcome:
    """A saved correction and how re-scoring changed the recording."""

    change: LabelChange
    changed_frames: tuple[int, ...]
    #: frames the exemplar would have changed, when the correction was kept to the frame
    #: and its near-duplicates (``review/reach.py``); empty when it was not
    spill: tuple[int, ...] = ()


class ReviewSession:
    """Classifies a recording and applies the page's corrections (thread-safe)."""

    def __init__(
        self,
        root: str | Path,
        classes: str | Path,
        encoder: str | Encoder = "auto",
        cache: str | Path | None = None,
        options: EncoderOptions | None = None,
        min_score: float | None = None,
        classifier: ScreenClassifier | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        # one opener for every kind of recording; a bad one fails here, before models load
        self.source: FrameSource = open_recording(self.root)
        self.video = self.source.path if isinstance(self.source, VideoFile) else None
        found: list[Frame] = [] if self.source.kind in ("video", "openadapt", "flow") else list(self.source.frames())
        self.layout = self.source.layout
        self.classfile = ClassFile(classes, recording=self.root)
        self.cache = FeatureCache(Path(cache) if cache is not None else default_cache_dir())
        self.clf = classifier or ScreenClassifier(
            self.classfile.spec(), encoder=encoder, options=options, cache=self.cache, min_score=min_score
        )
        self._lock = threading.RLock()
        self.version = 0  # bumps on every re-score, so pages can tell they are current
        truth = read_truth(self.root)
        hashes: list[str | None] = []
        errors: list[str | None] = []
        loaded = []
        for f in found:
            try:
                li = self.clf.load(f.file)
                loaded.append(li)
                hashes.append(li.content_hash)
                errors.append(None)
            except ScreenstateError as e:
                hashes.append(None)
                errors.append(str(e))
        self.features: dict[str, ScreenFeatures] = {}
        self._encode(loaded, hashes, errors)
        self._paths = [f.file for f in found]
        self._truth = [f.label if f.label is not None else truth.get(f.file.name) for f in found]
        self._times: list[float | None] = [None] * len(found)
        self._row_keys: dict[str, int] = {}  # a recording's frame key / source ordinal -> frame index
        self._t0: float | None = None  # Unix time of a capture's first frame
        if self.video is not None or self.source.kind in ("openadapt", "flow"):
            self._load_video(self.video, hashes, errors)
        self.corrections: dict[int, str | None] = {}
        #: per class-file change of this session: (frame, had a correction, its previous value), None for edits
        self._history: list[tuple[int, bool, str | None] | None] = []
        self.frames: list[ReviewFrame] = []
        self._hashes, self._errors = hashes, errors
        self.rescore()

    def _encode(self, loaded: list[Any], hashes: list[str | None], errors: list[str | None]) -> None:
        """Features of every distinct readable frame (cache first); a frame that fails to
        decode gets an error, never disappears."""
        from concurrent.futures import ThreadPoolExecutor

        distinct = list({li.content_hash: li for li in loaded}.values())
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            for start in range(0, len(distinct), 16):
                chunk = distinct[start : start + 16]
                feats: list[ScreenFeatures | None]
                try:
                    feats = list(self.clf.features(chunk, pool))
                except ScreenstateError:  # find the bad frame(s): one at a time
                    feats = []
                    for li in chunk:
                        try:
                            feats.append(self.clf.features([li])[0])
                        except ScreenstateError as e:
                            feats.append(None)
                            for i, hh in enumerate(hashes):
                                if hh == li.content_hash:
                                    hashes[i], errors[i] = None, str(e)
                for li, f in zip(chunk, feats):
                    if f is not None:
                        self.features[li.content_hash] = f

    def _load_video(self, video: Path | None, hashes: list[str | None], errors: list[str | None]) -> None:
        """Decode and gate a video or a capture (as classify-directory does); every frame that
        was read is saved as a PNG under the cache directory, and frames that reused its
        features point to it, so the page can show, and a correction can copy, what was classified."""
        from screenstate.batch.sequence import gate_items, gate_video, source_items, source_rows, video_rows
        from screenstate.embeddings.gating import GateOptions
        from screenstate.hashing import digest, file_hash

        vhash = file_hash(video) if video is not None else digest(f"recording:{self.root}")
        folder = self.cache.root / "video-frames" / vhash
        folder.mkdir(parents=True, exist_ok=True)
        saved: dict[int, Path] = {}

        def save(fid: int, img: Any) -> None:
            p = folder / f"read_{fid:06d}.png"
            if not p.exists():
                img.save(p)
            saved[fid] = p

        if video is not None:
            chunk = gate_video(self.clf, video, GateOptions.for_video(), video_hash=vhash, on_read=save)
            rows = video_rows(video, [chunk], self.clf)
        else:
            frames = list(self.source.frames())
            items = source_items(self.clf, frames, vhash)
            chunk = gate_items(self.clf, items, GateOptions.for_video(), on_read=save)
            rows = source_rows(frames, chunk, self.clf)
        for row in rows:
            key = f"{vhash}:{row.feature_id}" if row.feature_id >= 0 else None
            if key is not None:
                self.features[key] = chunk.features[row.feature_id]
            hashes.append(key)
            errors.append(row.error)
            self._paths.append(saved.get(row.feature_id, video or Path(row.path)))
            self._truth.append(None)
            self._times.append(row.time_s)
            self._row_keys[row.path] = len(self._times) - 1
            if row.source_ordinal is not None:
                self._row_keys[f"#{row.source_ordinal}"] = len(self._times) - 1
            if self._t0 is None and row.timestamp is not None and row.time_s is not None:
                self._t0 = row.timestamp - row.time_s

    # -- scoring -----------------------------------------------------------------------
    def rescore(self) -> tuple[int, ...]:
        """Re-read the class file and re-classify every frame from held features; returns
        the indices whose state changed."""
        with self._lock:
            return self._commit(*self._prepare(self.classfile.spec()))

    def _prepare(self, spec: ClassSpec) -> tuple[ScreenClassifier, dict[str, ScreenFeatures]]:
        """The classifier for ``spec`` (its exemplars encoded) and the frames' features for
        it, without changing the session: raises, with nothing changed, when the spec cannot
        be used. A class file that gains its first screenshot exemplar under ``auto`` gains
        the visual channel; the frames then get that channel's features (the others are
        kept, nothing is read again)."""
        clf = self.clf.with_spec(spec)
        missing = tuple(n for n in clf.encoder.channel_names if n not in self.clf.encoder.channel_names)
        if not missing:
            return clf, self.features
        sub = clf.encoder.subset(missing)
        where = {h: p for p, h in zip(self._paths, self._hashes) if h is not None}
        features = dict(self.features)
        keys = list(features)
        for start in range(0, len(keys), 16):
            chunk = keys[start : start + 16]
            new = sub.encode([sub.prepare(load_image(where[h])) for h in chunk])
            for h, f in zip(chunk, new):
                features[h] = features[h].merged(f)
        return clf, features

    def _commit(self, clf: ScreenClassifier, features: dict[str, ScreenFeatures], results: Results = None) -> Changed:
        """Make ``clf`` and ``features`` the session's and re-classify every frame (or take ``results``)."""
        with self._lock:
            self.clf, self.features = clf, features
            results = results if results is not None else classify_all((clf, features))
            old = {f.index: f.state_label for f in self.frames}
            self.frames = [
                ReviewFrame(
                    index=i,
                    path=p,
                    time_s=self._times[i],
                    content_hash=h,
                    error=err,
                    result=results.get(h) if h is not None else None,
                    truth=t,
                    correction=self.corrections.get(i),
                    corrected=i in self.corrections,
                )
                for i, (p, h, err, t) in enumerate(zip(self._paths, self._hashes, self._errors, self._truth))
            ]
            self.version += 1
            return tuple(f.index for f in self.frames if f.index in old and old[f.index] != f.state_label)

    def _apply(self, edit: Edit, reach: Reach | None = None) -> tuple[int, ...]:
        """Write ``edit`` once its classifier is built (by ``reach``, or here: a class file
        that cannot be used is never written), then re-score. Caller holds both locks."""
        try:
            prepared = reach.prepared if reach is not None else self._prepare(edit.spec)
            self.classfile.write(edit)
        except BaseException:
            if edit.undoes is None:
                self.classfile.drop_files(edit.created)
            raise
        return self._commit(*prepared, reach.results if reach is not None else None)

    @property
    def names(self) -> list[str]:
        return list(self.clf.names)

    def frame(self, index: int) -> ReviewFrame:
        if not 0 <= index < len(self.frames):
            raise IndexError(f"frame {index} does not exist; the recording has frames 0..{len(self.frames) - 1}")
        return self.frames[index]

    def evidence(self, index: int, k: int = 2) -> list[ClassEvidence]:
        """Evidence for the ``k`` best classes of a frame (winner and runner-up)."""
        f = self.frame(index)
        if f.result is None or f.content_hash is None:
            return []
        with self._lock:
            return explain(self.clf, self.features[f.content_hash], [n for n, _ in f.result.top(k)])

    def try_image(self, data: bytes) -> tuple[ClassificationResult, list[ClassEvidence]]:
        """Scores and evidence for an uploaded screenshot (not added to anything)."""
        with self._lock:
            li = self.clf.load(data)
            feats = self.clf.features([li])[0]
            res = self.clf.classify_features([feats], [li.source])[0]
            return res, explain(self.clf, feats, [n for n, _ in res.top(2)])

    # -- changes -----------------------------------------------------------------------
    def label(self, index: int, state: str | None, negative: bool = False, scope: str = "auto") -> LabelOutcome:
        """Save ``state`` as the truth of frame ``index`` (None: none of the above) and
        re-score: the frame is pinned to ``state`` and becomes an exemplar of it (with
        ``negative``, also a negative exemplar of the class it was wrongly predicted as), as
        far as ``scope`` lets the correction reach (``review/reach.py``: by default the
        exemplar is kept only if it changes no other frame's state)."""
        with self._lock:
            f = self.frame(index)
            if f.result is None:
                raise ScreenstateError(f"frame {index} ({f.path.name}) is unreadable: {f.error}")
            if state is not None and state not in self.names:
                raise UnknownNameError("state", state, self.names)
            wrong = f.result.pred if negative and f.result.pred != state else None
            if state is None and wrong is None and not self.clf.can_pin:
                raise ScreenstateError(
                    "'none of the above' adds no exemplar by itself: also tick 'negative' to add the frame "
                    f"as a negative exemplar of {f.result.pred!r}"
                )
            before = [fr.result.state if fr.result is not None else False for fr in self.frames]
            with self.classfile.locked():
                at = (self.clf.can_pin, index, self._paths, self._hashes)
                reach = plan(self.classfile, self._prepare, *at, before=before, state=state, wrong=wrong, scope=scope)
                had, prev = index in self.corrections, self.corrections.get(index)
                saved = dict(self.corrections)
                self.corrections[index] = state
                try:
                    changed = self._apply(reach.edit, reach)
                except BaseException:
                    self.corrections = saved
                    raise
            self._history.append((index, had, prev))
            assert reach.edit.label is not None
            return LabelOutcome(reach.edit.label, changed, reach.spill)

    def undo(self) -> str:
        """Undo the last change to the class file (a label or an edit) and re-score."""
        with self._lock, self.classfile.locked():
            edit = self.classfile.undo_edit()
            undone = self._history[-1] if self._history else None
            saved = dict(self.corrections)
            if undone is not None:  # a label: restore the frame's previous correction
                index, had, prev = undone
                if had:
                    self.corrections[index] = prev
                else:
                    self.corrections.pop(index, None)
            try:
                self._apply(edit)
            except BaseException:
                self.corrections = saved
                raise
            if self._history:
                self._history.pop()
            return edit.what

    def replace_classes(self, text: str) -> None:
        """Validate and save edited class-file text, then re-score; invalid text raises
        :class:`~screenstate.errors.SpecError` and nothing is written."""
        with self._lock, self.classfile.locked():
            edit = self.classfile.edit(text, self.example_roots)
            if edit is None:
                self.rescore()
                return
            self._apply(edit)
            self._history.append(None)

    @property
    def example_roots(self) -> tuple[Path, ...]:
        """Where the page's edits may name image examples, besides the class file's folder:
        the recording (a folder; a video is one file)."""
        return (self.root,)

    # -- views -------------------------------------------------------------------------
    def queue(self, n: int = 20) -> list[ReviewFrame]:
        """The ``n`` least certain readable frames (smallest margin first)."""
        scored = [f for f in self.frames if f.margin is not None]
        return sorted(scored, key=lambda f: (f.margin, f.index))[:n]

    def segments(self) -> list[Segment]:
        """Runs of consecutive frames with the same state (``batch/segments.py``, as
        classify-directory finds them: ``end_s`` is when the next segment starts)."""
        frames = self.frames
        scores = [f.result.confidence if f.result is not None else None for f in frames]
        return find_segments([f.state_label for f in frames], [f.time_s for f in frames], scores)

    def actions(self) -> list[ReviewAction]:
        """The user's actions (OpenAdapt captures, openadapt-flow recordings), each with the
        frames it is bound to; empty for recordings without actions."""
        out = []
        for a in self.source.actions():

            def frame(ordinal: int | None, key: str | None) -> int | None:
                if ordinal is not None and f"#{ordinal}" in self._row_keys:
                    return self._row_keys[f"#{ordinal}"]
                return self._row_keys.get(key) if key is not None else None

            t = a.time - self._t0 if self._t0 is not None else a.time
            before = frame(a.screenshot_source_ordinal, a.before_key)
            after = frame(a.after_screenshot_source_ordinal, a.after_key)
            out.append(ReviewAction(a.index, t, a.kind, a.text or "+".join(a.keys), before, after))
        return out

    def accuracy(self) -> LabelAccuracy | None:
        """The current states against the recording's known labels (``unknown`` = no
        state); None without labels. Unreadable labeled frames count as wrong."""
        fs = self.frames
        return score_labels(
            [f.truth for f in fs], [f.result.state if f.result else None for f in fs],
            [f.path.name for f in fs], NONE_LABEL, [f.result is None for f in fs],
        )  # fmt: skip

    def labels_csv(self) -> str:
        """``frame,time_s,state,source``: the user's correction where one was saved, else
        the prediction (``unknown`` below every min_score)."""
        return csv_text(
            ["frame", "time_s", "state", "source"],
            [
                [
                    f.path.name,
                    seconds(f.time_s),
                    (f.correction or NONE_LABEL) if f.index in self.corrections else f.state_label,
                    "corrected" if f.index in self.corrections else "predicted",
                ]
                for f in self.frames
            ],
        )

    def segments_csv(self) -> str:
        """``segment,start_frame,end_frame,n_frames,start_s,end_s,state``."""
        return csv_text(
            ["segment", "start_frame", "end_frame", "n_frames", "start_s", "end_s", "state"],
            [
                [s.index, s.start, s.end, s.n_frames, seconds(s.start_s), seconds(s.end_s), s.state]
                for s in self.segments()
            ],
        )
