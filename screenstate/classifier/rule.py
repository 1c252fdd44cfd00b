"""The decision rule of a class file, as one object chosen once.

A rule turns the evidence of a batch of screens (each source's relevance to every example
column, float [images, columns]) into raw class scores, and gives the per-column view
that explains a class's score (the example the evidence agrees on). Two rules:

- :class:`~screenstate.classifier.two_stage.TwoStage`: the channels' relevances fused by a
  weighted mean, then the two-stage positive/negative rule (text prompts, or too few
  screenshot exemplars to learn from);
- :class:`~screenstate.classifier.fewshot.FewShot`: each source calibrated and weighted on
  the user's own screenshot exemplars, then late fusion.

:func:`choose_rule` picks one from the class file's columns; callers (``ScreenClassifier``,
``evidence.explain``, the checker, batch jobs, the service) call the rule and never ask
which one it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from screenstate.classifier.columns import ExampleColumns, Relevance
from screenstate.classifier.fewshot import FewShot, calibration_rows
from screenstate.classifier.two_stage import TwoStage


class DecisionRule(Protocol):
    """Raw class scores from evidence, and the column view that explains them."""

    @property
    def columns(self) -> ExampleColumns:
        """The class file's example columns."""
        ...

    @property
    def channels(self) -> tuple[str, ...]:
        """The evidence sources the rule reads (keys of the relevance it is given)."""
        ...

    @property
    def min_score(self) -> float | None:
        """ "None of the above" below this raw score, learned from the class file's own
        exemplars (None: the rule has nothing to learn it from); a class's ``min_score`` wins."""
        ...

    @property
    def min_margin(self) -> float | None:
        """How far a screen's best class must lead the runner-up, learned with ``min_score``
        and applied only where the learned ``min_score`` is (None: no margin)."""
        ...

    def scores(self, relevance: Relevance) -> np.ndarray:
        """Raw scores, float [images, classes] in [0, 1]; sources missing from
        ``relevance`` are left out (ablations)."""
        ...

    def column_view(self, relevance: Relevance) -> np.ndarray:
        """float [images, columns]: how strongly the evidence matches each example column
        (NaN: no source scores it); a class's best column is the example behind its score."""
        ...


def choose_rule(
    columns: ExampleColumns,
    channels: Sequence[str],
    weights: Mapping[str, float],
    exemplar_relevance: Callable[[np.ndarray], Relevance],
) -> DecisionRule:
    """The rule for a class file: :class:`FewShot` when enough classes have two or more
    positive screenshot exemplars (:func:`~screenstate.classifier.fewshot.calibration_rows`),
    else :class:`TwoStage` over ``channels`` with fusion ``weights``.

    ``exemplar_relevance(rows)``: every evidence source's relevance of the screenshots of
    the columns ``rows`` (int64) to every column; called only for the few-shot rule.
    """
    rows = calibration_rows(columns)
    if rows is None:
        return TwoStage(columns, tuple(channels), dict(weights))
    return FewShot.calibrated(columns, exemplar_relevance(rows), rows)
