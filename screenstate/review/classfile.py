"""The class file under review: validated edits, exemplar labels, backups and undo.

Every change is one locked read-modify-write: the current file is copied to ``C.json.bak``,
the new text is written to a temporary file and renamed over ``C.json`` (atomic), and the
previous text is kept for :meth:`ClassFile.undo`. A thread lock serialises the page's
requests; an ``flock`` on a hidden ``.C.json.lock`` file serialises processes (two review
servers on one class file), so concurrent saves never lose or corrupt an edit.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screenstate.atomic import atomic_write
from screenstate.embeddings.images import load_image
from screenstate.embeddings.index import file_digest
from screenstate.errors import ScreenstateError, SpecError, UnknownNameError
from screenstate.schema import ClassSpec, ImageExample

try:  # POSIX: serialise writers across processes too
    import fcntl
except ImportError:  # pragma: no cover - Windows: the thread lock still serialises one server
    fcntl = None  # type: ignore[assignment]


class NothingToUndoError(ScreenstateError):
    """Undo was asked for, but this session has not changed the class file."""


@dataclass(frozen=True)
class LabelChange:
    """What a correction added: the exemplar copies and the classes they were added to."""

    frame: Path
    state: str | None
    exemplar: Path | None  # positive exemplar of ``state``
    negative_of: str | None
    negative_exemplar: Path | None


@dataclass(frozen=True)
class _Undo:
    previous_text: str
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


def _example_paths(spec: ClassSpec) -> list[tuple[str, Path]]:
    """(JSON path, real path) of every image and exemplar-folder example."""
    out = []
    for ref in spec.iter_examples():
        ex = ref.example
        if not isinstance(ex, str):
            raw = ex.image if isinstance(ex, ImageExample) else ex.exemplars
            out.append((ref.json_path, _real(spec.resolve(raw))))
    return out


def check_example_paths(text: str, base_dir: Path, roots: Sequence[Path], trusted: str | None = None) -> None:
    """Refuse image examples outside ``roots`` (the class file's folder, the recording),
    except those ``trusted`` (the file's current text) already names. One message whatever
    the path is, checked before any file is looked at: it never tells whether a file exists."""
    spec = ClassSpec.from_dict(json.loads(text), base_dir=base_dir, check_files=False)
    known: set[Path] = set()
    if trusted is not None:
        with contextlib.suppress(ScreenstateError, ValueError):
            known = {p for _, p in _example_paths(ClassSpec.from_dict(json.loads(trusted), base_dir, False))}
    real_roots = [_real(r) for r in roots]
    for json_path, p in _example_paths(spec):
        if p not in known and not any(p == r or p.is_relative_to(r) for r in real_roots):
            where = " or ".join(str(r) for r in real_roots)
            raise SpecError(
                f"{json_path}: the review page only takes image examples under {where}; "
                "copy the image there and name it relative to the class file"
            )


class ClassFile:
    """One class JSON file that the review page reads and changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()
        self.backup = self.path.with_name(self.path.name + ".bak")
        self._lockfile = self.path.with_name(f".{self.path.name}.lock")
        self._lock = threading.Lock()
        self._undo: list[_Undo] = []
        self.spec()  # a bad class file fails at startup, naming the problem

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    def read_text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def spec(self) -> ClassSpec:
        """The class file as it is on disk now, validated."""
        return ClassSpec.from_json(self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if fcntl is None:
                yield
                return
            with open(self._lockfile, "a") as fd:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def _write(self, text: str, previous: str, created: tuple[Path, ...], what: str) -> None:
        """Back up, write atomically, remember how to undo (caller holds the lock)."""
        shutil.copyfile(self.path, self.backup)
        atomic_write(self.path, text)
        self._undo.append(_Undo(previous, created, what))

    def replace_text(self, text: str, roots: Sequence[Path] = ()) -> bool:
        """Validate ``text`` as a class file and write it; invalid text raises
        :class:`SpecError` and writes nothing. False when the text was already the file's.
        ``roots``: besides the class file's folder, where new image examples may be."""
        parse_spec_text(text, self.path.parent, check_files=False)
        check_example_paths(text, self.path.parent, [self.path.parent, *roots], self.read_text())
        parse_spec_text(text, self.path.parent)
        text = text if text.endswith("\n") else text + "\n"
        with self._locked():
            previous = self.read_text()
            if previous == text:
                return False
            self._write(text, previous, (), "edit")
        return True

    def add_label(self, frame: Path, state: str | None, negative_of: str | None = None) -> LabelChange:
        """Copy ``frame`` in as a positive exemplar of ``state`` (``exemplars/<state>/``) and,
        when ``negative_of`` is given, as a negative exemplar of that class
        (``exemplars/_negative/<class>/``). One write; nothing changes if anything fails."""
        if state is None and negative_of is None:
            raise ScreenstateError("a label needs a state, or a class to add the frame to as a negative exemplar")
        load_image(frame)  # refuse an unreadable frame before touching anything
        with self._locked():
            previous = self.read_text()
            data, spec = parse_spec_text(previous, self.path.parent)
            for name in (state, negative_of):
                if name is not None and name not in spec.names:
                    raise UnknownNameError("class", name, spec.names)
            created: list[Path] = []
            try:
                pos = self._add(data, frame, state, "examples_to_include", Path("exemplars") / str(state), created)
                neg = self._add(
                    data,
                    frame,
                    negative_of,
                    "examples_to_exclude",
                    Path("exemplars/_negative") / str(negative_of),
                    created,
                )
                text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
                parse_spec_text(text, self.path.parent)  # validate before writing
                self._write(text, previous, tuple(created), f"label {frame.name}")
            except BaseException:
                for p in created:
                    p.unlink(missing_ok=True)
                raise
        return LabelChange(frame, state, pos, negative_of, neg)

    def _add(
        self, data: dict[str, Any], frame: Path, name: str | None, key: str, sub: Path, created: list[Path]
    ) -> Path | None:
        if name is None:
            return None
        dest_dir = self.path.parent / sub
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest, i = dest_dir / frame.name, 1
        while dest.exists() and file_digest(dest) != file_digest(frame):
            dest, i = dest_dir / f"{frame.stem}_{i}{frame.suffix}", i + 1
        if not dest.exists():
            shutil.copyfile(frame, dest)
            created.append(dest)
        entry = {"image": dest.relative_to(self.path.parent).as_posix()}
        for cfg in data["classifier_configs"]:
            if cfg["name"] == name and entry not in cfg.setdefault(key, []):
                cfg[key].append(entry)
        return dest

    def undo(self) -> str:
        """Restore the text before this session's last change and delete the exemplar
        files that change created; returns what was undone."""
        with self._locked():
            if not self._undo:
                raise NothingToUndoError("nothing to undo: this session has not changed the class file")
            last = self._undo.pop()
            current = self.read_text()
            self._write(last.previous_text, current, (), "undo")
            self._undo.pop()  # the undo itself is not undoable
            for p in last.created:
                p.unlink(missing_ok=True)
                with contextlib.suppress(OSError):  # only empty folders this change made go
                    p.parent.rmdir()
        return last.what
