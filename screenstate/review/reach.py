"""How far a correction reaches: corrections only help.

A correction saves the frame's state two ways. A *pin* (``classifier/pins.py``) gives the
frame and its near-duplicates that state and touches nothing else. An *exemplar* (and, with
``negative``, a negative exemplar of the wrong class) teaches the rule, so it also moves
every other frame's scores, for better or worse: one screenshot of a dialog on the
desktop makes the plain desktop frames look like that dialog.

``scope`` says which the page writes:

- ``auto`` (default): the exemplar and the pin, unless the exemplar would change the state
  of any other frame (beyond the corrected one and its near-duplicates); then the pin only,
  and the outcome lists the frames the exemplar would have changed (``spill``), so the user
  can look at them and apply it ``everywhere`` on purpose;
- ``everywhere``: the exemplar and the pin, whatever they change;
- ``screen``: the pin only.

Without the visual channel (an explicit encoder without it) there are no pins: ``auto``
and ``everywhere`` write the exemplar alone, ``screen`` is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from screenstate.classify import ScreenClassifier
from screenstate.embeddings.features import ScreenFeatures
from screenstate.errors import ScreenstateError
from screenstate.results import ClassificationResult
from screenstate.review.classfile import ClassFile, Edit
from screenstate.schema import ClassSpec

SCOPES = ("auto", "everywhere", "screen")
Prepared = tuple[ScreenClassifier, dict[str, ScreenFeatures]]
#: content hash -> result of every distinct frame, when already classified (None: not yet)
Results = dict[str, ClassificationResult] | None


@dataclass(frozen=True)
class Reach:
    """The edit to write, its classifier and features (already built) with the results of
    every distinct frame when they were needed here, and the frames the exemplar would have
    changed when ``auto`` kept the correction to the screen."""

    edit: Edit
    prepared: Prepared
    results: Results = None
    spill: tuple[int, ...] = ()


def classify_all(prepared: Prepared) -> dict[str, ClassificationResult]:
    """Content hash -> result of every distinct frame under ``prepared``."""
    clf, feats = prepared
    order = list(feats)
    return dict(zip(order, clf.classify_features([feats[h] for h in order])))


def plan(
    classfile: ClassFile,
    prepare: Callable[[ClassSpec], Prepared],
    can_pin: bool,
    frame: int,
    paths: Sequence,
    hashes: Sequence[str | None],
    before: Sequence[str | None | bool],
    state: str | None,
    wrong: str | None,
    scope: str,
) -> Reach:
    """The correction of frame ``frame`` (``state``; ``wrong``: the class to add it to as a
    negative exemplar, or None) as ``scope`` says; ``before``: every frame's state now
    (False: unreadable). Caller holds the class file's lock; the copies of an edit not
    returned are deleted."""
    if scope not in SCOPES:
        raise ScreenstateError(f"scope {scope!r} is not one of {list(SCOPES)}")
    if not can_pin:
        if scope == "screen":
            raise ScreenstateError(
                "scope 'screen' pins the frame, and pins need the visual channel: start the page with "
                "--encoder auto (or add visual to the encoder), or use scope 'everywhere'"
            )
        edit = classfile.label(paths[frame], state, wrong)
        return Reach(edit, _built(classfile, edit, lambda: prepare(edit.spec)))
    if scope == "screen" or (state is None and wrong is None):  # none of the above alone: nothing to teach
        edit = classfile.label(paths[frame], state, None, exemplar=False, pin=True)
        return Reach(edit, _built(classfile, edit, lambda: prepare(edit.spec)))
    edit = classfile.label(paths[frame], state, wrong, pin=True)
    prepared = _built(classfile, edit, lambda: prepare(edit.spec))
    if scope == "everywhere":
        return Reach(edit, prepared)
    results = classify_all(prepared)
    # the frame and its near-duplicates are pinned; frames held by older pins do not change
    after = [results[h] if h is not None else None for h in hashes]
    spill = tuple(i for i, (b, a) in enumerate(zip(before, after)) if a is not None and not a.pinned and a.state != b)
    if not spill:
        return Reach(edit, prepared, results)
    classfile.drop_files(edit.created)
    local = classfile.label(paths[frame], state, None, exemplar=False, pin=True)
    clf, feats = prepared  # the pin needs nothing the exemplar's classifier lacks: no frame is read again
    return Reach(local, _built(classfile, local, lambda: (clf.with_spec(local.spec), feats)), spill=spill)


def _built(classfile: ClassFile, edit: Edit, build: Callable[[], Prepared]) -> Prepared:
    """``build()``: the classifier and features of ``edit``'s class file; the edit's copies are
    deleted when it cannot be used."""
    try:
        return build()
    except BaseException:
        classfile.drop_files(edit.created)
        raise
