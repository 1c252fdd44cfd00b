"""Replays of the recorded session: its own screens decided by the rule learned on its frames.

A class file named from one recording (``suggest`` then ``label --cluster``) has exemplars
that all show one *scene*: the same desktop, windows and content, another dialog in front
(``classifier/pins.py``: two of them differ in a few % of their tiles). Learned on such
exemplars, the few-shot rule sees every source match every same-class pair perfectly: it
fits the recorded session (a replay of it comes out right, the unnamed desktop frames as
none of the above) and fails on every other session (label_once: session B 0.443 under
the few-shot rule, 0.521 under the two-stage rule; screens-dev's 150 screenshots of other
sessions 0.49 and 0.78).

So such a class file gets two rules: the two-stage rule (the few-shot rule learns only
from screenshots of *different* scenes, :func:`~screenstate.classifier.fewshot.calibration_rows`)
for every screen, and the few-shot rule learned on the scene's frames, with its learned
none of the above, for screens of that scene (:meth:`Pins.same_scene` against the
exemplars): a replay of the recorded session. A screen's result never depends on the other
screens of its batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from screenstate.classifier.pins import Pins
from screenstate.classifier.rule import DecisionRule


@dataclass(frozen=True, eq=False)
class Replay:
    """The rule for screens of the exemplars' own scene, and the exemplars' tile grids."""

    rule: DecisionRule
    #: the positive screenshot exemplars' tile grids (``states``: their classes)
    scene: Pins
    min_scores: np.ndarray  # float32 [classes], NaN: none
    min_margins: np.ndarray  # float32 [classes], NaN: none

    def screens(self, tiles: list[np.ndarray | None]) -> np.ndarray:
        """bool [screens]: which screens show the exemplars' scene."""
        return self.scene.same_scene(tiles)
