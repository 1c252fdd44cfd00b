"""The class file under review: validated edits, exemplar labels, backups and undo.

Every change is a transaction (:meth:`ReviewSession.label` and friends drive it): under
the class file's lock — the one ``screenstate label`` and :mod:`screenstate.exemplars`
take (:func:`screenstate.atomic.file_lock`) — the current text is read, the change is
made and validated (schema, paths, and by the caller the classifier it gives), the
exemplar copies are written whole, then ``C.json.bak`` and ``C.json`` are replaced
atomically. Nothing is written when anything fails, and a SIGKILL at any point leaves
no listed exemplar missing or truncated (temporary files are removed at the next start).

Undo reverts only this page's own last change, and refuses when the file on disk is no
longer what that change wrote (another program changed it since: its change is kept).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screenstate.atomic import atomic_write, file_lock
from screenstate.embeddings.images import load_image
from screenstate.errors import ScreenstateError, SpecError, UnknownNameError
from screenstate.exemplars import clean_class_folder, copy_exemplar
from screenstate.schema import ClassSpec, ImageExample, list_images


class NothingToUndoError(ScreenstateError):
    """Undo was asked for, but this session has not changed the class file."""


class ChangedOnDiskError(ScreenstateError):
    """Undo was asked for, but the class file changed on disk since this session's change."""


#: the folder (under ``exemplars/``) of pinned screenshots
PINNED = "_pinned"


@dataclass(frozen=True)
class LabelChange:
    """What a correction added: the exemplar copies and the classes they were added to."""

    frame: Path
    state: str | None
    exemplar: Path | None  # positive exemplar of ``state``
    negative_of: str | None
    negative_exemplar: Path | None
    pin: Path | None = None  # the pinned copy (it and its near-duplicates get ``state``)


@dataclass(frozen=True)
class Edit:
    """A change ready to be written: the new text, its spec, the exemplar copies it made
    (removed again if it is dropped) and, for an undo, the change it reverts."""

    text: str
    spec: ClassSpec
    what: str
    created: tuple[Path, ...] = ()
    label: LabelChange | None = None
    undoes: _Undo | None = None


@dataclass(frozen=True)
class _Undo:
    previous_text: str
    written_text: str
    created: tuple[Path, ...]
    what: str


def parse_spec_text(text: str, base_dir: Path, check_files: bool = True) -> tuple[dict[str, Any], ClassSpec]:
    """Parse and validate class-file text; :class:`SpecError` names the line or JSON path."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    return data, ClassSpec.from_dict(data, base_dir=base_dir, check_files=check_files)


def _real(p: Path) -> Path:
    return Path(os.path.realpath(p))


def _example_paths(spec: ClassSpec, inside: Sequence[Path] = ()) -> list[tuple[str, Path]]:
    """(JSON path, real path) of every image and exemplar-folder example, and of the images
    in an exemplar folder under one of ``inside`` (a link in it may lead elsewhere)."""
    out = []
    for ref in spec.iter_examples():
        ex = ref.example
        if not isinstance(ex, str):
            raw = ex.image if isinstance(ex, ImageExample) else ex.exemplars
            p = _real(spec.resolve(raw))
            out.append((ref.json_path, p))
            if not isinstance(ex, ImageExample) and any(p.is_relative_to(r) for r in inside) and p.is_dir():
                out += [(f"{ref.json_path}.exemplars", _real(f)) for f in list_images(p)]
    out += [(f"pins[{i}].image", _real(spec.resolve(pin.image))) for i, pin in enumerate(spec.pins)]
    return out


def check_example_paths(text: str, base_dir: Path, roots: Sequence[Path], trusted: str | None = None) -> None:
    """Refuse image examples outside ``roots`` (the class file's folder, the recording),
    except those ``trusted`` (the file's current text) already names. One message whatever
    the path is, checked before any file is looked at: it never tells whether a file exists."""
    spec = ClassSpec.from_dict(json.loads(text), base_dir=base_dir, check_files=False)
    real_roots = [_real(r) for r in roots]
    known: set[Path] = set()
    if trusted is not None:
        with contextlib.suppress(ScreenstateError, ValueError):
            known = {
                p for _, p in _example_paths(ClassSpec.from_dict(json.loads(trusted), base_dir, False), real_roots)
            }
    for json_path, p in _example_paths(spec, real_roots):
        if p not in known and not any(p == r or p.is_relative_to(r) for r in real_roots):
            where = " or ".join(str(r) for r in real_roots)
            raise SpecError(
                f"{json_path}: the review page only takes image examples under {where}; "
                "copy the image there and name it relative to the class file"
            )


class ClassFile:
    """One class JSON file that the review page reads and changes (see the module doc)."""

    def __init__(self, path: str | Path, recording: Path | None = None) -> None:
        """``recording``: the folder being reviewed; a class file inside it is refused, as
        corrections copy screenshots beside the class file and a recording is never written."""
        self.path = Path(path).resolve()
        if recording is not None and recording.is_dir() and self.path.is_relative_to(recording.resolve()):
            raise ScreenstateError(
                f"{self.path} lies inside the recording {recording}: corrections copy screenshots beside the "
                "class file, and a recording is never written to; keep the class file outside it"
            )
        self.backup = self.path.with_name(self.path.name + ".bak")
        self._undo: list[_Undo] = []
        with self.locked():
            clean_class_folder(self.path)  # what a killed writer left behind
        self.spec()  # a bad class file fails at startup, naming the problem

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    def read_text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def spec(self) -> ClassSpec:
        """The class file as it is on disk now, validated."""
        return ClassSpec.from_json(self.path)

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """The class file's lock (threads and processes; the CLI takes it too)."""
        return file_lock(self.path)

    # -- building a change (caller holds the lock; nothing of the class file is written) --
    def edit(self, text: str, roots: Sequence[Path] = ()) -> Edit | None:
        """``text`` checked as the new class file: schema, then image examples only under
        the class file's folder or ``roots`` (or already in the file), then that the files
        exist. :class:`SpecError` when invalid; None when the text is the file's already."""
        parse_spec_text(text, self.path.parent, check_files=False)
        current = self.read_text()
        check_example_paths(text, self.path.parent, [self.path.parent, *roots], current)
        _, spec = parse_spec_text(text, self.path.parent)
        text = text if text.endswith("\n") else text + "\n"
        return None if text == current else Edit(text, spec, "edit")

    def label(
        self, frame: Path, state: str | None, negative_of: str | None = None, exemplar: bool = True, pin: bool = False
    ) -> Edit:
        """``frame`` as a positive exemplar of ``state`` (``exemplars/<state>/``) and, when
        ``negative_of`` is given, a negative exemplar of that class
        (``exemplars/_negative/<class>/``); with ``pin``, also pinned to ``state``
        (``exemplars/_pinned/``, the class file's ``pins``: it and its near-duplicates get
        ``state``, None = none of the above); ``exemplar=False`` pins only. The copies are
        made (whole) and listed in the returned edit; :meth:`drop` removes them if the edit
        is not written."""
        state_ex, negative_of = (state, negative_of) if exemplar else (None, None)
        if state_ex is None and negative_of is None and not pin:
            raise ScreenstateError("a label needs a state, or a class to add the frame to as a negative exemplar")
        load_image(frame)  # refuse an unreadable frame before touching anything
        data, spec = parse_spec_text(self.read_text(), self.path.parent)
        for name in (state, negative_of):
            if name is not None and name not in spec.names:
                raise UnknownNameError("class", name, spec.names)
        created: list[Path] = []
        try:
            pos = self._add(data, frame, state_ex, False, created)
            neg = self._add(data, frame, negative_of, True, created)
            pinned = self._pin(data, frame, state, created) if pin else None
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
            _, new_spec = parse_spec_text(text, self.path.parent)
        except BaseException:
            self.drop_files(created)
            raise
        change = LabelChange(frame, state, pos, negative_of, neg, pinned)
        return Edit(text, new_spec, f"label {frame.name}", tuple(created), change)

    def _add(
        self, data: dict[str, Any], frame: Path, name: str | None, negative: bool, created: list[Path]
    ) -> Path | None:
        if name is None:
            return None
        dest, made = copy_exemplar(self.path, frame, name, negative)
        if made:
            created.append(dest)
        key = "examples_to_exclude" if negative else "examples_to_include"
        entry = {"image": dest.relative_to(self.path.parent).as_posix()}
        for cfg in data["classifier_configs"]:
            if cfg["name"] == name and entry not in cfg.setdefault(key, []):
                cfg[key].append(entry)
        return dest

    def _pin(self, data: dict[str, Any], frame: Path, state: str | None, created: list[Path]) -> Path:
        dest, made = copy_exemplar(self.path, frame, PINNED)
        if made:
            created.append(dest)
        image = dest.relative_to(self.path.parent).as_posix()
        pins = [p for p in data.get("pins", []) if p.get("image") != image]  # a re-correction replaces it
        data["pins"] = [*pins, {"image": image, "state": state}]
        return dest

    def undo_edit(self) -> Edit:
        """The edit that reverts this session's last change. Refused when there is none, or
        when the file on disk is not what that change wrote (a later change by another
        program would be lost)."""
        if not self._undo:
            raise NothingToUndoError("nothing to undo: this session has not changed the class file")
        last = self._undo[-1]
        if self.read_text() != last.written_text:
            raise ChangedOnDiskError(
                f"undo refused: {self.path} changed on disk since this page's last change ({last.what}), "
                "e.g. by `screenstate label` or an editor; undoing would lose that change. "
                "Edit the class file (Classes) instead"
            )
        _, spec = parse_spec_text(last.previous_text, self.path.parent)
        return Edit(last.previous_text, spec, last.what, undoes=last)

    # -- writing (caller holds the lock) --------------------------------------------------
    def write(self, edit: Edit) -> None:
        """Back up, then replace the class file atomically; remember how to undo it (an
        undo forgets the change it reverted and deletes the exemplar copies it made)."""
        previous = self.read_text()
        atomic_write(self.backup, previous)
        atomic_write(self.path, edit.text)
        if edit.undoes is None:
            self._undo.append(_Undo(previous, edit.text, edit.created, edit.what))
            return
        self._undo.pop()
        self.drop_files(edit.undoes.created)

    @staticmethod
    def drop_files(created: Sequence[Path]) -> None:
        """Delete exemplar copies (after the class file no longer lists them), and their
        folders when that leaves them empty."""
        for p in created:
            p.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                p.parent.rmdir()

    # -- one-call forms (tests, scripts) --------------------------------------------------
    def replace_text(self, text: str, roots: Sequence[Path] = ()) -> bool:
        """Validate ``text`` and write it; False when it was the file's already."""
        with self.locked():
            edit = self.edit(text, roots)
            if edit is not None:
                self.write(edit)
        return edit is not None

    def add_label(
        self, frame: Path, state: str | None, negative_of: str | None = None, exemplar: bool = True, pin: bool = False
    ) -> LabelChange:
        """Add ``frame`` as an exemplar and/or pin (see :meth:`label`) and write the class file."""
        with self.locked():
            edit = self.label(frame, state, negative_of, exemplar, pin)
            try:
                self.write(edit)
            except BaseException:
                self.drop_files(edit.created)
                raise
        assert edit.label is not None
        return edit.label

    def undo(self) -> str:
        """Revert this session's last change (see :meth:`undo_edit`); returns what it was."""
        with self.locked():
            edit = self.undo_edit()
            self.write(edit)
        return edit.what
