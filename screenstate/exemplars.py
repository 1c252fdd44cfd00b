"""Exemplar workflow: add labeled frames to a class file and keep its index current.

add_exemplar("configs/app.json", "rec/frame_0042.png", "login_page")            # positive
add_exemplar("configs/app.json", "rec/frame_0050.png", "login_page", negative=True)
build_exemplar_index("configs/app.json")
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from screenstate.atomic import atomic_write, file_lock, remove_stale_temps
from screenstate.embeddings.images import load_image
from screenstate.embeddings.index import ExemplarIndex, file_digest
from screenstate.errors import SpecError, UnknownNameError
from screenstate.schema import ClassSpec, check_class_name, exemplar_folder

if TYPE_CHECKING:  # labelling without an index loads no model, so it need not import torch (a second)
    from screenstate.classify import ScreenClassifier


@dataclass(frozen=True)
class IndexReport:
    """What index build did."""

    directory: Path
    exemplars: int
    rebuilt: bool
    channels: tuple[str, ...]


def index_dir(classes: Path) -> Path:
    return classes.with_name(classes.name + ".index")


def _named(class_name: str) -> str:
    try:
        return check_class_name(class_name)
    except ValueError as e:
        raise SpecError(str(e)) from e


def copy_exemplar(classes: Path, frame: Path, class_name: str, negative: bool = False) -> tuple[Path, bool]:
    """Copy ``frame`` into ``exemplars/<class>/`` (``exemplars/_negative/<class>/``) beside
    the class file, atomically (a kill leaves the whole file or none); a file of the same
    content there is reused. Returns (the copy, whether it was created). Call it holding
    :func:`~screenstate.atomic.file_lock` of the class file."""
    try:
        dest_dir = exemplar_folder(classes.parent, class_name, negative)
    except ValueError as e:
        raise SpecError(str(e)) from e
    data = frame.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    dest, i = dest_dir / frame.name, 1
    while dest.exists() and _sha256(dest) != digest:
        dest, i = dest_dir / f"{frame.stem}_{i}{frame.suffix}", i + 1
    if dest.exists():
        return dest, False
    atomic_write(dest, data)
    return dest, True


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def clean_class_folder(classes: Path) -> list[Path]:
    """Delete the temporary files a killed writer left beside the class file and in its
    exemplar folders (``.NAME.*.tmp``); call it holding the class file's lock."""
    gone = remove_stale_temps(classes.parent, classes.name)
    gone += remove_stale_temps(classes.parent, classes.name + ".bak")
    ex = classes.parent / "exemplars"
    if ex.is_dir():
        for folder in [ex, *(p for p in ex.rglob("*") if p.is_dir())]:
            gone += remove_stale_temps(folder)
    return gone


def add_exemplar(classes: str | Path, frame: str | Path, class_name: str, negative: bool = False) -> Path:
    """Copy ``frame`` next to the class file (``exemplars/<class>/``) and list it as an
    ``{"image": ...}`` example of ``class_name``; returns the copied file. One transaction
    under the class file's lock (shared with the review page): everything is checked
    first, the copy is complete before the class file names it, and a failure removes it."""
    classes, frame = Path(classes).absolute(), Path(frame)
    _named(class_name)
    load_image(frame)  # refuse unreadable frames before touching anything
    key = "examples_to_exclude" if negative else "examples_to_include"
    with file_lock(classes):
        clean_class_folder(classes)
        spec = ClassSpec.from_json(classes)
        if class_name not in spec.names:
            raise UnknownNameError("class", class_name, spec.names)
        data = json.loads(classes.read_text(encoding="utf-8"))
        dest, created = copy_exemplar(classes, frame, class_name, negative)
        try:
            entry = {"image": dest.relative_to(classes.parent).as_posix()}
            for cfg in data["classifier_configs"]:
                if cfg["name"] == class_name and entry not in cfg.setdefault(key, []):
                    cfg[key].append(entry)
            _write_validated(classes, data)
        except BaseException:
            if created:
                dest.unlink(missing_ok=True)
            raise
    return dest


def _write_validated(classes: Path, data: dict) -> None:
    ClassSpec.from_dict(data, base_dir=classes.parent)  # validate before writing
    atomic_write(classes, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def ensure_class(classes: str | Path, class_name: str, first_exemplar: str | Path, describe: str | None = None) -> bool:
    """Make sure ``class_name`` exists in the class file (creating the file if needed), with
    ``first_exemplar`` (and ``describe``, a text example) as its first positive examples.
    Returns True when the class was added. Checked first, under the class file's lock."""
    classes = Path(classes).absolute()
    _named(class_name)
    load_image(Path(first_exemplar))
    with file_lock(classes):
        clean_class_folder(classes)
        data = json.loads(classes.read_text(encoding="utf-8")) if classes.exists() else {"classifier_configs": []}
        if any(c.get("name") == class_name for c in data.get("classifier_configs", [])):
            return False
        dest, created = copy_exemplar(classes, Path(first_exemplar), class_name)
        try:
            examples: list[object] = [describe] if describe else []
            examples.append({"image": dest.relative_to(classes.parent).as_posix()})
            data.setdefault("classifier_configs", []).append({"name": class_name, "examples_to_include": examples})
            _write_validated(classes, data)
        except BaseException:
            if created:
                dest.unlink(missing_ok=True)
            raise
    return True


def build_exemplar_index(classifier: ScreenClassifier, classes: str | Path) -> IndexReport:
    """Save per-channel exemplar vectors and a manifest next to the class file; skipped
    when exemplars and model are unchanged. Exemplar features land in the disk cache."""
    classes = Path(classes)
    out = index_dir(classes)
    cols = [(i, c) for i, c in enumerate(classifier.columns) if c.image is not None]
    manifest = [
        {
            "path": str(c.image),
            "hash": file_digest(c.image),
            "class": classifier.names[c.class_index],
            "negative": c.is_negative,
        }
        for _, c in cols
        if c.image is not None
    ]
    rebuilt = False
    for ch in classifier.encoder.channels:
        vecs = ch.exemplar_vectors(classifier.examples.get(ch.name))
        d = out / ch.name
        if ExemplarIndex.load(d, ch.model_id, manifest) is None:
            ExemplarIndex(vecs.astype(np.float32), [i for i, _ in cols], ch.model_id, manifest).save(d)
            rebuilt = True
    return IndexReport(out, len(cols), rebuilt, classifier.encoder.channel_names)
