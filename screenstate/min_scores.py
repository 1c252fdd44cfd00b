"""A ``min_score`` per class proposed from the recording the user labelled ("none of the above").

    proposals = propose_min_scores("my_states.json", "states/")   # after `suggest` + `label`
    write_min_scores("my_states.json", proposals)                  # when the user asks

The frames of a ``suggest`` folder are sorted by what the user did with them: a cluster
whose exemplars are all screenshots of one class (``label --cluster``) is that class; a
frame whose bytes are one class's exemplar (``label FRAME``) is that class; every other
frame was left unnamed, i.e. "none of the above". The class file scores every frame (an
exemplar frame with the exemplar left out when its class keeps another screenshot, so
it is scored as a new screen of its state would be). For class ``c``:

- ``own``: the lowest raw score of ``c`` on its own frames;
- ``other``: the highest raw score of ``c`` on the frames left unnamed;

and the proposal is ``other + SPLIT * (own - other)``: a screen less like ``c`` than its
own frames are, and as like ``c`` as a screen the user left unnamed, gets no state.

A value is proposed only where the class file needs one: ``c`` has no threshold of its own
and none learned (one screenshot per class: the two-stage rule accepts every screen), or
the class file as it is gives an unnamed frame the state ``c``. Where the few-shot rule's
learned "none of the above" (threshold and margin) already leaves every unnamed frame
without ``c``, nothing is proposed: a class's ``min_score`` replaces both, and on the
qt-featherpad recording that lost session B's unknown frames (label_once). Nor where
``own <= other`` (an unnamed frame looks like ``c`` as much as its own frames: name it, or
label it ``--negative``), or where the recording has no frame of ``c``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from screenstate.atomic import atomic_write, file_lock
from screenstate.errors import ScreenstateError
from screenstate.hashing import file_hash
from screenstate.schema import ClassSpec

if TYPE_CHECKING:
    from screenstate.classify import ScreenClassifier

#: where between the unnamed frames' highest score and the own frames' lowest the cut goes:
#: near the unnamed frames, as another session's frames of a state score lower than its own
#: recording's (label_once on qt-featherpad, see docs/CONSTANTS.md)
SPLIT = 0.1


@dataclass(frozen=True)
class MinScoreProposal:
    """The proposed ``min_score`` of one class (None: none proposed, ``why`` says why),
    with the scores it was cut between and the frame that set each."""

    name: str
    min_score: float | None
    own: float | None
    other: float | None
    own_frames: int
    why: str

    def line(self) -> str:
        """One line for the CLI."""
        value = "-" if self.min_score is None else f"{self.min_score:.3f}"
        return f"{self.name:24s} min_score {value:>6s}  ({self.why})"


def _digest(path: Path) -> str:
    """The project's content hash of a frame or exemplar, read once per file version (frames
    and exemplars are compared for every class and every left-out exemplar)."""
    st = path.stat()
    return _content_digest(str(path.absolute()), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4096)
def _content_digest(path: str, mtime_ns: int, size: int) -> str:
    return file_hash(path)


def named_frames(spec: ClassSpec, states: str | Path) -> dict[Path, str | None]:
    """Every frame of a ``suggest`` folder with the class the user gave it (None: left
    unnamed), read from the class file's screenshot exemplars (see the module docstring)."""
    from screenstate.suggest import SUMMARY, load_cluster

    states = Path(states)
    try:
        dirs = [states / c["dir"] for c in json.loads((states / SUMMARY).read_text())["clusters"]]
    except FileNotFoundError as e:
        raise ScreenstateError(f"{states}: no {SUMMARY}; give the --out folder of `screenstate suggest`") from e
    except (ValueError, KeyError, TypeError) as e:
        raise ScreenstateError(f"{states / SUMMARY}: not written by `screenstate suggest` ({e})") from e
    classes: dict[str, set[str]] = {}
    for col in spec.columns():
        if col.image is not None and not col.is_negative:
            classes.setdefault(_digest(col.image), set()).add(spec.names[col.class_index])
    out: dict[Path, str | None] = {}
    for d in dirs:
        cluster = load_cluster(d)
        frames = [f if f.is_file() else d / "frames" / f.name for f in cluster.frames]
        ex = [classes.get(_digest(f), set()) for f in cluster.exemplars if f.is_file()]
        whole = set.intersection(*ex) if ex and all(ex) else set()
        for f in frames:
            own = classes.get(_digest(f), set()) if f.is_file() else set()
            names = own or whole
            out[f] = next(iter(names)) if len(names) == 1 else None
    return out


def _leave_one_out(clf: ScreenClassifier, spec: ClassSpec, frame: Path, name: str) -> float | None:
    """Raw score of ``name`` on ``frame`` with its own exemplar taken out of the class
    file (None when the class has no other screenshot)."""
    base = spec.base_dir or Path(".")
    data = json.loads(spec.to_json())
    digest = _digest(frame)
    for cfg in data["classifier_configs"]:
        if cfg["name"] != name:
            continue
        keep = [
            e for e in cfg["examples_to_include"] if not (isinstance(e, dict) and _is(base, e.get("image"), digest))
        ]
        if not any(isinstance(e, dict) and "image" in e for e in keep):
            return None
        cfg["examples_to_include"] = keep
    other = clf.with_spec(ClassSpec.from_dict(data, base_dir=base))
    raw = np.asarray(other.raw_scores(other.features([other.load(frame)])), dtype=np.float64)
    return float(raw[0, other.names.index(name)])


def _is(base: Path, image: object, digest: str) -> bool:
    if not isinstance(image, str):
        return False
    p = Path(image) if Path(image).is_absolute() else base / image
    return p.is_file() and _digest(p) == digest


def propose_min_scores(
    classes: str | Path,
    states: str | Path,
    classifier: ScreenClassifier | None = None,
    encoder: str = "auto",
    split: float = SPLIT,
) -> tuple[MinScoreProposal, ...]:
    """A proposal per class of the class file, from the frames of the ``suggest`` folder
    ``states`` as the user named them (see the module docstring); nothing is written.
    ``classifier``: share its models and cache (else one is made with ``encoder``)."""
    from screenstate.classify import ScreenClassifier
    from screenstate.embeddings.cache import FeatureCache

    spec = ClassSpec.from_json(classes)
    frames = named_frames(spec, states)  # a wrong folder fails before any model is loaded
    if classifier is not None:
        clf = classifier.with_spec(spec)
    else:
        clf = ScreenClassifier(spec, encoder=encoder, cache=FeatureCache())
    paths = list(frames)
    feats = clf.features([clf.load(p) for p in paths])
    given = [r.state for r in clf.classify_features(feats)]
    raw = np.asarray(clf.raw_scores(feats), dtype=np.float64)
    exemplars = {_digest(c.image) for c in spec.columns() if c.image is not None and not c.is_negative}
    # the recording's own frames: the rule learned on it decides them (classifier/replay.py)
    replay = clf.replay is not None and bool(clf.replayed(feats).all())
    thresholds = spec.min_scores(clf.replay.rule.min_score if replay and clf.replay else clf.rule.min_score)
    unnamed = [i for i, p in enumerate(paths) if frames[p] is None]
    out = []
    for j, name in enumerate(clf.names):
        taken = [paths[i].name for i in unnamed if given[i] == name]
        if thresholds[j] is not None and not taken:
            why = "the class file already gives no unnamed frame this state"
            out.append(MinScoreProposal(name, None, None, None, 0, why))
            continue
        own: list[tuple[float, Path]] = []
        for i, p in enumerate(paths):
            if frames[p] == name:
                loo = _leave_one_out(clf, spec, p, name) if _digest(p) in exemplars else None
                own.append((float(raw[i, j]) if loo is None else loo, p))
        out.append(_proposal(name, own, [(float(raw[i, j]), paths[i]) for i in unnamed], split))
    return tuple(out)


def _proposal(
    name: str, own: Sequence[tuple[float, Path]], other: Sequence[tuple[float, Path]], split: float
) -> MinScoreProposal:
    if not own:
        return MinScoreProposal(name, None, None, None, 0, "no frame of it in the recording")
    lo, lo_at = min(own)
    if not other:
        return MinScoreProposal(name, None, lo, None, len(own), "every frame is named: nothing to cut against")
    hi, hi_at = max(other)
    if lo <= hi:
        why = f"unnamed {hi_at.name} scores {hi:.3f}, its own {lo_at.name} {lo:.3f}: name it or label it --negative"
        return MinScoreProposal(name, None, lo, hi, len(own), why)
    value = round(hi + split * (lo - hi), 4)
    why = f"own frames >= {lo:.3f} ({lo_at.name}), unnamed <= {hi:.3f} ({hi_at.name})"
    return MinScoreProposal(name, value, lo, hi, len(own), why)


def write_min_scores(classes: str | Path, proposals: Sequence[MinScoreProposal]) -> list[str]:
    """Set each proposed ``min_score`` in the class file (under its lock; classes without
    a proposal keep theirs); returns the names written."""
    classes = Path(classes).absolute()
    values = {p.name: p.min_score for p in proposals if p.min_score is not None}
    with file_lock(classes):
        data = json.loads(classes.read_text(encoding="utf-8"))
        for cfg in data["classifier_configs"]:
            if cfg["name"] in values:
                cfg["min_score"] = values[cfg["name"]]
        ClassSpec.from_dict(data, base_dir=classes.parent)  # validate before writing
        atomic_write(classes, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return list(values)
