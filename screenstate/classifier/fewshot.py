"""Few-shot decision rule: evidence sources calibrated and weighted on the user's own exemplars.

With screenshot exemplars, a class file has several *sources* of evidence: each channel's
relevance to the text prompts, and each channel's relevance to the image exemplars (text,
visual, word overlap ...). Their raw scales differ per channel and per application (two
screenshots of one state of a dialog share most of their words but little of their
pixels; web pages the other way round), so a fixed fusion weight chosen on one set of
software misjudges another. This rule learns both the scale and the weight of every
source from the exemplars the user gave, and nothing else:

1. **Calibration.** Each positive exemplar's screen is scored by the source against every
   column but its own and those of its scene (``ExampleColumns.instance``: a dialog
   recorded in three frames of one session is one screenshot, not a same-class pair that
   every source matches perfectly). For exemplar sources, ``same`` is the mean relevance of the pairs
   of exemplars of one class, ``diff`` of the pairs of different classes; for prompt
   sources (one best prompt per class), the mean class score (two-stage rule over the
   class's columns) of the exemplar's own class and of the other classes. Relevance r becomes ``0.5 + 0.5 * tanh((r - diff) / (same - diff))``: a
   typical other-class match sits at 0.5, a typical same-class match at 0.88, and the map
   is smooth (no ties from clamping).
2. **Weight.** The source's leave-one-out accuracy on the exemplars (argmax of the
   class scores, own column left out), minus chance (1 / classes), floored at ``MIN_WEIGHT``: a source that
   cannot tell the user's own exemplars apart hardly counts.
3. **Late fusion.** Per source, the two-stage rule (best positive vs best negative of each
   class) on the calibrated relevance gives class scores; the fused raw score is the
   weighted mean over the sources that have columns for that class.

A source whose exemplars give no same-class pair (one exemplar per class) keeps its
channel's own calibration and weight 1. The rule only sees relevance matrices
(model-agnostic, like ``two_stage``).

Chosen by ``python benchmarks/run.py fewshot_accuracy`` on screens-dev, the held-out sets
agreeing; the numbers and the variants compared and not kept are in docs/CONSTANTS.md.

:class:`FewShot` is the rule object (see ``classifier/rule.py``); it is chosen when
``FEWSHOT_MIN_CLASSES`` classes, and ``FEWSHOT_MIN_SHARE`` of the classes with screenshots,
have ``FEWSHOT_MIN_PER_CLASS`` positive screenshots of different scenes each
(:func:`calibration_rows`; a class file named from one recording: ``classifier/replay.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from screenstate.classifier.columns import Against, ExampleColumns, Relevance, Source, sources_of
from screenstate.classifier.fusion import weighted_mean
from screenstate.classifier.two_stage import two_stage_scores

#: weight of a source no better than chance on the user's exemplars (fewshot_accuracy)
MIN_WEIGHT = 0.01
#: whether the prompt sources score negative text examples under this rule: no, only
#: negative *screenshots* lower a class here (fewshot_accuracy; docs/CONSTANTS.md).
#: Without exemplars the two-stage rule keeps every text negative.
NEGATIVE_PROMPTS = False

#: the few-shot rule needs this many classes with this many positive screenshots (of different
#: scenes, ``classifier/pins.py``) each
FEWSHOT_MIN_CLASSES = 2
FEWSHOT_MIN_PER_CLASS = 2
#: ... and at least this share of the classes with screenshots: learned on the variation of a
#: few classes, the weights and the none of the above misjudge the others (label_once, dev:
#: screens-dev's recording names 10 classes, 4 of them with two scenes; its 150 screenshots of
#: other sessions 0.493 under the few-shot rule, 0.780 under the two-stage rule). Only where
#: the scenes are known (``ExampleColumns.instance``): the replay rule of a recording
#: (``classifier/replay.py``) treats every screenshot as its own, as the rule did before
FEWSHOT_MIN_SHARE = 0.5
#: a class with no column in a calibrated source (a text-only class among exemplar classes)
#: scores what a typical other-class match scores there, so all classes share one scale (label_once)
ABSENT = 0.5
#: an exemplar source whose best class on a screen scores below ABSENT, or that scores every
#: class alike, has no opinion on that screen instead of pulling every class down (label_once)
ABSTAIN = True
#: the learned "none of the above" sits this far from the best other class's mean
#: leave-one-out score towards the own class's (label_once on qt-featherpad)
MIN_SCORE_AT = 0.0
#: ... and a screen's best class must lead the runner-up by this share of the exemplars'
#: typical lead (own minus best other, leave-one-out): a screen about as like two classes
#: (the editor or desktop under every dialog of one session) is none of them (label_once)
MIN_MARGIN_AT = 0.3
#: exemplars compared with each other to learn the few-shot scales (all pairs: quadratic);
#: larger sets use this many, spread over the classes
FEWSHOT_CALIBRATION_ROWS = 256


@dataclass(frozen=True, eq=False)
class SourceCalibration:
    """One source's learned scale and weight (``same``/``diff`` are None when uncalibrated)."""

    source: Source
    columns: np.ndarray  # bool [examples]: the columns this source scores
    same: float | None
    diff: float | None
    weight: float
    loo_accuracy: float | None

    def apply(self, relevance: np.ndarray) -> np.ndarray:
        """Calibrated relevance of this source's columns, float32 [images, columns of the source]."""
        r = relevance[:, self.columns]
        if self.same is None or self.diff is None:
            return r
        f = r.dtype.type  # python floats enter float32 arithmetic as float32 (as torch's scalars did)
        return f(0.5) + f(0.5) * np.tanh((r - f(self.diff)) / f(max(self.same - self.diff, 1e-6)))


def _class_scores(rel: np.ndarray, cls: np.ndarray, neg: np.ndarray, n_classes: int) -> np.ndarray:
    """Two-stage class scores where every class has a positive column; NaN for the others."""
    has_pos = np.zeros(n_classes, dtype=np.bool_)
    has_pos[cls[~neg]] = True
    out = np.full((rel.shape[0], n_classes), np.nan, dtype=np.float32)
    keep = has_pos[cls]
    if bool(has_pos.any()):
        remap = np.cumsum(has_pos.astype(np.int64)) - 1
        sub = two_stage_scores(rel[:, keep], remap[cls[keep]], neg[keep], int(has_pos.sum()))
        out[:, has_pos] = sub
    return np.where(np.isfinite(out), out, np.float32(np.nan))  # a class whose only column was left out


def calibration_rows(columns: ExampleColumns, limit: int | None = None) -> np.ndarray | None:
    """The positive screenshot columns the few-shot scales are learned from (int64, column
    order), or None when too few classes have two screenshots of different scenes
    (``FEWSHOT_MIN_CLASSES``, and ``FEWSHOT_MIN_SHARE`` of the classes with screenshots;
    then the two-stage rule decides: frames of one dialog in one session teach nothing
    about how another session of that state looks, label_once). Above ``limit`` (default
    ``FEWSHOT_CALIBRATION_ROWS``) screenshots, the first ones of every class, at least
    ``FEWSHOT_MIN_PER_CLASS`` each."""
    limit = FEWSHOT_CALIBRATION_ROWS if limit is None else limit
    pos = np.flatnonzero(columns.is_image & ~columns.is_negative).tolist()
    cls = columns.example_class.tolist()
    per_class = Counter(cls[i] for i in pos)
    inst = columns.instance.tolist() if columns.instance is not None else list(range(len(cls)))
    distinct = Counter(c for c, _ in {(cls[i], inst[i]) for i in pos})  # near-duplicates are one screenshot
    varied = sum(n >= FEWSHOT_MIN_PER_CLASS for n in distinct.values())
    share = FEWSHOT_MIN_SHARE if columns.instance is not None else 0.0  # scenes known: see FEWSHOT_MIN_SHARE
    if varied < max(FEWSHOT_MIN_CLASSES, share * len(distinct)):
        return None
    if len(pos) > limit:
        per = max(FEWSHOT_MIN_PER_CLASS, -(-limit // len(per_class)))
        taken: Counter[int] = Counter()
        kept = []
        for i in pos:
            taken[cls[i]] += 1
            if taken[cls[i]] <= per:
                kept.append(i)
        pos = kept
    return np.array(pos, dtype=np.int64)


def calibrate(
    exemplar_relevance: Relevance, exemplar_columns: np.ndarray, columns: ExampleColumns
) -> list[SourceCalibration]:
    """Learn each source's scale and weight from the positive image exemplars.

    Args:
        exemplar_relevance: channel -> float [exemplars, examples], the relevance of each
            positive exemplar's own screen to every example column.
        exemplar_columns: int64 [exemplars], the column each exemplar row is.
        columns: the class file's columns.
    """
    example_class, example_is_negative, n_classes = columns.example_class, columns.is_negative, columns.n_classes
    out = []
    rows_cls = example_class[exemplar_columns]
    for src, cols in sources_of(exemplar_relevance, columns.is_image).items():
        if src.against is Against.PROMPTS and not NEGATIVE_PROMPTS:
            cols = cols & ~example_is_negative
            if not bool(cols.any()):
                continue
        rel = np.nan_to_num(exemplar_relevance[src.channel], nan=0.0)
        rel[columns.near_duplicates(exemplar_columns)] = -np.inf  # leave itself and its scene out
        masked = np.where(cols[None, :], rel, np.float32(-np.inf))
        scores = _class_scores(masked, example_class, example_is_negative | ~cols, n_classes)
        own = scores[np.arange(len(rows_cls)), rows_cls] if len(rows_cls) else np.zeros(0, np.float32)
        ok = np.isfinite(own)
        other = scores.copy()
        if len(rows_cls):
            other[np.arange(len(rows_cls)), rows_cls] = np.nan
        other_ok = np.isfinite(other)
        if not bool(ok.any()) or not bool(other_ok.any()):
            out.append(SourceCalibration(src, cols, None, None, 1.0, None))
            continue
        if src.against is Against.EXEMPLARS:  # pairs of exemplars: every other same-class / other-class column
            pos_cols = cols & ~example_is_negative
            same_pair = (example_class[None, :] == rows_cls[:, None]) & pos_cols[None, :]
            diff_pair = (example_class[None, :] != rows_cls[:, None]) & pos_cols[None, :]
            same_pair &= np.isfinite(rel)
            diff_pair &= np.isfinite(rel)
            if not bool(same_pair.any()) or not bool(diff_pair.any()):
                out.append(SourceCalibration(src, cols, None, None, 1.0, None))
                continue
            same, diff = float(rel[same_pair].mean()), float(rel[diff_pair].mean())
        else:  # prompts: the class's best prompt, own class vs the others
            same, diff = float(own[ok].mean()), float(other[other_ok].mean())
        pred = np.nan_to_num(scores[ok], nan=-np.inf).argmax(1)
        acc = float((pred == rows_cls[ok]).astype(np.float32).mean())
        present = len(np.unique(rows_cls[ok]))
        weight = max(acc - 1.0 / max(present, 1), MIN_WEIGHT)
        if same <= diff:  # the source ranks other classes above the exemplar's own
            out.append(SourceCalibration(src, cols, None, None, MIN_WEIGHT, acc))
        else:
            out.append(SourceCalibration(src, cols, same, diff, weight, acc))
    return out


def _fill_absent(scores: np.ndarray) -> np.ndarray:
    """Classes a source does not score (NaN) get ``ABSENT``, or the mean score of the
    classes it does score on that screen when lower: on a screen unlike every exemplar
    (another session, another theme) a class without exemplars must not stand out."""
    present = ~np.isnan(scores)
    if bool(present.all()) or not bool(present.any()):
        return scores
    n = present.sum(1, keepdims=True)
    f = scores.dtype.type
    mean = np.where(present, scores, f(0.0)).sum(1, keepdims=True) / np.maximum(n, 1).astype(scores.dtype)
    # a screen the source abstains on (no class scored) stays without opinion, whatever
    # else is in the batch: a screen's scores never depend on the other screens
    return np.where(present | (n == 0), scores, np.minimum(mean, f(ABSENT)))


@dataclass(frozen=True, eq=False)
class FewShot:
    """The few-shot rule of a class file with screenshot exemplars (see the module docstring).

    >>> cols = ExampleColumns(np.array([0, 1]), np.array([False, False]), np.array([True, True]), 2)
    >>> cal = SourceCalibration(Source("text", Against.EXEMPLARS), np.array([True, True]), None, None, 1.0, None)
    >>> FewShot(cols, (cal,), ("text",)).scores({"text": np.array([[0.9, 0.6]], np.float32)})
    array([[0.9, 0.6]], dtype=float32)
    """

    columns: ExampleColumns
    calibration: tuple[SourceCalibration, ...]
    #: the evidence it reads: every source it was calibrated over
    channels: tuple[str, ...]
    #: "none of the above" learned from the exemplars (see :func:`learned_min_score`); None: not learned
    min_score: float | None = None
    #: the lead over the runner-up a screen needs with the learned min_score (same function)
    min_margin: float | None = None

    @classmethod
    def calibrated(cls, columns: ExampleColumns, exemplar_relevance: Relevance, rows: np.ndarray) -> FewShot:
        """The rule learned from ``exemplar_relevance`` of the screenshot columns ``rows``
        (:func:`calibrate`), with its :func:`learned_min_score` and margin."""
        rule = cls(columns, tuple(calibrate(exemplar_relevance, rows, columns)), tuple(exemplar_relevance))
        learned = learned_min_score(rule, exemplar_relevance, rows)
        if learned is None:
            return rule
        return replace(rule, min_score=learned[0], min_margin=learned[1])

    def _calibrated(self, relevance: Relevance) -> Iterator[tuple[SourceCalibration, np.ndarray]]:
        """Each source whose channel is in ``relevance``, with its calibrated columns."""
        for cal in self.calibration:
            if cal.source.channel in relevance:
                yield cal, cal.apply(np.nan_to_num(relevance[cal.source.channel], nan=0.0))

    def scores(self, relevance: Relevance) -> np.ndarray:
        """Fused raw class scores, float [images, classes] in [0, 1]: per source, the
        two-stage rule on its calibrated columns; then the weighted mean over the sources
        that score a class. Sources missing from ``relevance`` are left out."""
        c = self.columns
        n_images = next(iter(relevance.values())).shape[0] if relevance else 0
        terms = []
        for cal, scores in self._source_scores(relevance):
            if ABSTAIN and cal.source.against is Against.EXEMPLARS:
                best = np.nan_to_num(scores, nan=-np.inf).max(1, keepdims=True, initial=-np.inf)
                worst = np.nan_to_num(scores, nan=np.inf).min(1, keepdims=True, initial=np.inf)
                far = best - worst < np.float32(1e-6)  # no preference between the classes
                if cal.same is not None:
                    far |= best < np.float32(ABSENT)  # less like every exemplar than a typical other-class pair
                scores = np.where(far, np.float32(np.nan), scores)
            if cal.same is not None:  # see ABSENT
                scores = _fill_absent(scores)
            terms.append((cal.weight, scores))
        return weighted_mean(terms, np.zeros((n_images, c.n_classes), np.float32), 0.0)

    def _source_scores(self, relevance: Relevance) -> Iterator[tuple[SourceCalibration, np.ndarray]]:
        """Each source with its own class scores: the two-stage rule on its calibrated columns."""
        c = self.columns
        for cal, rel in self._calibrated(relevance):
            yield cal, _class_scores(rel, c.example_class[cal.columns], c.is_negative[cal.columns], c.n_classes)

    def per_source(self, relevance: Relevance) -> dict[str, np.ndarray]:
        """Each source's own class scores (NaN for a class it has no column of), float
        [images, classes], keyed ``channel:against``: which evidence carries a decision
        (label_once reports each source's accuracy)."""
        return {str(cal.source): scores for cal, scores in self._source_scores(relevance)}

    def column_view(self, relevance: Relevance) -> np.ndarray:
        """Per example column, the weighted mean of the calibrated relevances of the sources
        that score it, float [images, examples] (NaN where none does): which example of a
        class the sources agree on, to explain a few-shot score."""
        n_images, n_cols = next(iter(relevance.values())).shape
        terms = []
        for cal, rel in self._calibrated(relevance):
            full = np.full((n_images, n_cols), np.nan, dtype=np.float32)
            full[:, cal.columns] = rel
            terms.append((cal.weight, full))
        return weighted_mean(terms, np.zeros((n_images, n_cols), np.float32), float("nan"))


def learned_min_score(rule: FewShot, exemplar_relevance: Relevance, rows: np.ndarray) -> tuple[float, float] | None:
    """ "None of the above" from the user's own exemplars, as (min_score, min_margin): each
    exemplar screen is scored by the rule with its own column left out. The threshold sits
    ``MIN_SCORE_AT`` of the way from how the best other class typically scores (mean)
    towards how its own class does; the margin is ``MIN_MARGIN_AT`` of that typical lead. A
    screen whose best class scores below the threshold, or leads the runner-up by less than
    the margin, gets no state (``pred`` kept). Only exemplars whose class keeps another
    screenshot once their own and its scene's are left out count (with a class's only
    screenshot left out, its score says nothing about how close a screen of that class
    comes). None when no class has two screenshots or there is no other class to compare
    with."""
    if len(rows) == 0:
        return None
    own_cls = rule.columns.example_class[rows]
    dup = rule.columns.near_duplicates(rows)[:, rows]
    shared = ((own_cls[:, None] == own_cls[None, :]) & ~dup).any(1)  # another screenshot of its class
    if not bool(shared.any()):
        return None
    left_out = rule.columns.near_duplicates(rows[shared])
    rows, own_cls = rows[shared], own_cls[shared]
    loo = {}
    for ch, r in exemplar_relevance.items():
        r = r[shared].copy()
        r[left_out] = np.nan  # leave itself and its scene out
        loo[ch] = r
    raw = rule.scores(loo)
    own = raw[np.arange(len(rows)), own_cls]
    other = raw.copy()
    other[np.arange(len(rows)), own_cls] = -np.inf
    best_other = other.max(1)
    ok = np.isfinite(own) & np.isfinite(best_other)
    if not bool(ok.any()):
        return None
    lead = float(own[ok].mean() - best_other[ok].mean())
    return float(best_other[ok].mean()) + MIN_SCORE_AT * lead, max(MIN_MARGIN_AT * lead, 0.0)
