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

from screenstate.classifier.pins import Pins
from screenstate.classify import ScreenClassifier
from screenstate.embeddings.features import ScreenFeatures
from screenstate.errors import ScreenstateError
from screenstate.review.classfile import ClassFile, Edit
from screenstate.schema import ClassSpec

SCOPES = ("auto", "everywhere", "screen")
Prepared = tuple[ScreenClassifier, dict[str, ScreenFeatures]]


@dataclass(frozen=True)
class Reach:
    """The edit to write, its classifier and features (already built), and the frames the
    exemplar would have changed when ``auto`` kept the correction to the screen."""

    edit: Edit
    prepared: Prepared
    spill: tuple[int, ...] = ()


def _states(prepared: Prepared, hashes: Sequence[str | None]) -> list[str | None | bool]:
    """Per frame, its state under ``prepared`` (False: unreadable)."""
    clf, feats = prepared
    known = [h for h in hashes if h is not None]
    res = dict(zip(known, clf.classify_features([feats[h] for h in known])))
    return [res[h].state if h is not None else False for h in hashes]


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
        return Reach(edit, _built(classfile, prepare, edit))
    if scope == "screen":
        edit = classfile.label(paths[frame], state, None, exemplar=False, pin=True)
        return Reach(edit, _built(classfile, prepare, edit))
    if state is None and wrong is None:  # none of the above, no negative: nothing to teach the rule
        edit = classfile.label(paths[frame], None, None, exemplar=False, pin=True)
        return Reach(edit, _built(classfile, prepare, edit))
    edit = classfile.label(paths[frame], state, wrong, pin=True)
    prepared = _built(classfile, prepare, edit)
    if scope == "everywhere":
        return Reach(edit, prepared)
    after = _states(prepared, hashes)
    _, feats = prepared
    visual = [feats[h].visual if h is not None else None for h in hashes]
    own = visual[frame]
    tiles = [v.tiles if v is not None else None for v in visual]
    near = Pins((own.tiles,), (0,)).match(tiles) >= 0 if own is not None else [False] * len(hashes)
    spill = tuple(i for i, (b, a) in enumerate(zip(before, after)) if b != a and not near[i] and i != frame)
    if not spill:
        return Reach(edit, prepared)
    classfile.drop_files(edit.created)
    local = classfile.label(paths[frame], state, None, exemplar=False, pin=True)
    return Reach(local, _built(classfile, prepare, local), spill)


def _built(classfile: ClassFile, prepare: Callable[[ClassSpec], Prepared], edit: Edit) -> Prepared:
    """The classifier and features of ``edit``'s class file; its copies are deleted when it cannot be used."""
    try:
        return prepare(edit.spec)
    except BaseException:
        classfile.drop_files(edit.created)
        raise
