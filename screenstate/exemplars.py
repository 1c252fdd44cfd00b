"""Exemplar workflow: add labeled frames to a class file and keep its index current.

add_exemplar("configs/app.json", "rec/frame_0042.png", "login_page")            # positive
add_exemplar("configs/app.json", "rec/frame_0050.png", "login_page", negative=True)
build_exemplar_index("configs/app.json")
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from screenstate.atomic import atomic_write
from screenstate.classify import ScreenClassifier
from screenstate.embeddings.images import load_image
from screenstate.embeddings.index import ExemplarIndex, file_digest
from screenstate.errors import UnknownNameError
from screenstate.schema import ClassSpec


@dataclass(frozen=True)
class IndexReport:
    """What index build did."""

    directory: Path
    exemplars: int
    rebuilt: bool
    channels: tuple[str, ...]


def index_dir(classes: Path) -> Path:
    return classes.with_name(classes.name + ".index")


def add_exemplar(classes: str | Path, frame: str | Path, class_name: str, negative: bool = False) -> Path:
    """Copy ``frame`` next to the class file (``exemplars/<class>/``) and list it as an
    ``{"image": ...}`` example of ``class_name``; returns the copied file."""
    classes, frame = Path(classes), Path(frame)
    spec = ClassSpec.from_json(classes)
    if class_name not in spec.names:
        raise UnknownNameError("class", class_name, spec.names)
    dest = _copy_exemplar(classes, frame, class_name)
    data = json.loads(classes.read_text())
    key = "examples_to_exclude" if negative else "examples_to_include"
    entry = {"image": dest.relative_to(classes.parent).as_posix()}
    for cfg in data["classifier_configs"]:
        if cfg["name"] == class_name:
            if entry not in cfg.setdefault(key, []):
                cfg[key].append(entry)
    _write_validated(classes, data)
    return dest


def _copy_exemplar(classes: Path, frame: Path, class_name: str) -> Path:
    """Copy ``frame`` to ``exemplars/<class>/`` next to the class file (same content: same file)."""
    load_image(frame)  # refuse unreadable frames before touching anything
    dest_dir = classes.parent / "exemplars" / class_name
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / frame.name
    i = 1
    while dest.exists() and file_digest(dest) != file_digest(frame):
        dest = dest_dir / f"{frame.stem}_{i}{frame.suffix}"
        i += 1
    shutil.copyfile(frame, dest)
    return dest


def _write_validated(classes: Path, data: dict) -> None:
    ClassSpec.from_dict(data, base_dir=classes.parent)  # validate before writing
    atomic_write(classes, json.dumps(data, indent=2) + "\n")


def ensure_class(classes: str | Path, class_name: str, first_exemplar: str | Path, describe: str | None = None) -> bool:
    """Make sure ``class_name`` exists in the class file (creating the file if needed), with
    ``first_exemplar`` (and ``describe``, a text example) as its first positive examples.
    Returns True when the class was added."""
    classes = Path(classes)
    data = json.loads(classes.read_text()) if classes.exists() else {"classifier_configs": []}
    if any(c.get("name") == class_name for c in data.get("classifier_configs", [])):
        return False
    classes.parent.mkdir(parents=True, exist_ok=True)
    dest = _copy_exemplar(classes, Path(first_exemplar), class_name)
    examples: list[object] = [describe] if describe else []
    examples.append({"image": dest.relative_to(classes.parent).as_posix()})
    data.setdefault("classifier_configs", []).append({"name": class_name, "examples_to_include": examples})
    _write_validated(classes, data)
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
