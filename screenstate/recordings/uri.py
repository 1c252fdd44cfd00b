"""Recordings at a URI every Ray node can read (``s3://``, ``gs://``, ``file://`` on a
shared mount, anything pyarrow or fsspec can open): listed here, read on the workers.
The flat/labeled rule is :func:`~screenstate.recordings.folder.choose_layout`, as for a
local folder. Nothing here imports torch or the models (Ray tasks use it)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screenstate.errors import ScreenstateError
from screenstate.recordings.folder import choose_layout, file_frame
from screenstate.recordings.frame import Frame
from screenstate.recordings.listing import IGNORED_NAMES, SIDE_FILES
from screenstate.schema import IMAGE_SUFFIXES, natural_key

if TYPE_CHECKING:
    from screenstate.recordings.actions import Action


def is_uri(root: str | Path) -> bool:
    """``scheme://...`` (a filesystem URI) rather than a local path."""
    s = str(root)
    return "://" in s and s.split("://", 1)[0].replace("+", "").isalnum()


@dataclass(frozen=True)
class Root:
    """A job's ``--root``: ``uri`` is None for a local directory."""

    path: str
    uri: str | None = None

    @classmethod
    def of(cls, root: str | Path) -> Root:
        if is_uri(root):
            uri = str(root).rstrip("/")
            return cls(filesystem(uri)[1], uri)
        return cls(str(root))

    def display(self, path: str | Path) -> str:
        """A frame's name in outputs: its local path, or a URI for a URI root."""
        if self.uri is None:
            return str(path)
        rel = str(path)[len(self.path) :].lstrip("/")
        return f"{self.uri}/{rel}" if rel else self.uri


@functools.lru_cache(maxsize=8)
def filesystem(uri: str) -> tuple[Any, str]:
    """(pyarrow filesystem, path inside it) for ``uri``; pyarrow first, then fsspec."""
    import pyarrow.fs as pafs

    try:
        fs, path = pafs.FileSystem.from_uri(uri)
        return fs, path
    except Exception as arrow_error:  # noqa: BLE001 - any scheme pyarrow lacks: try fsspec
        try:
            import fsspec

            ffs, path = fsspec.core.url_to_fs(uri)
        except Exception as e:  # noqa: BLE001
            raise ScreenstateError(
                f"--root {uri}: cannot open this filesystem ({arrow_error}; fsspec: {e}); "
                "install its fsspec package (s3fs, gcsfs, adlfs...) or use a path on a shared mount"
            ) from e
        return pafs.PyFileSystem(pafs.FSSpecHandler(ffs)), str(path)


def _candidate(name: str) -> bool:
    if name.startswith(".") or name.lower() in IGNORED_NAMES:
        return False
    return Path(name).suffix.lower() not in SIDE_FILES


def discover_uri_frames(root: Root) -> tuple[list[Frame], str]:
    """List a URI root like :func:`~screenstate.recordings.folder.discover_frames` lists a local one."""
    import pyarrow.fs as pafs

    assert root.uri is not None
    fs, base = filesystem(root.uri)
    try:
        top = fs.get_file_info(pafs.FileSelector(base, recursive=False))
    except (OSError, FileNotFoundError) as e:
        raise ScreenstateError(f"--root {root.uri}: cannot list ({e})") from e
    files = sorted(
        (Path(i.path) for i in top if i.type == pafs.FileType.File and _candidate(i.base_name)), key=natural_key
    )
    dirs = sorted(
        (i for i in top if i.type == pafs.FileType.Directory and not i.base_name.startswith(".")),
        key=lambda i: natural_key(Path(i.path)),
    )
    layout = choose_layout(bool(files), bool(dirs))
    if layout == "flat":
        frames = [file_frame(i, p, None, key=root.display(p)) for i, p in enumerate(files)]
    else:
        frames = []
        for d in dirs:
            inside = fs.get_file_info(pafs.FileSelector(d.path, recursive=True))
            paths = sorted(
                (Path(i.path) for i in inside if i.type == pafs.FileType.File and _candidate(i.base_name)),
                key=natural_key,
            )
            frames += [file_frame(len(frames) + i, p, d.base_name, key=root.display(p)) for i, p in enumerate(paths)]
    if not frames:
        raise ScreenstateError(
            f"--root {root.uri}: no frames found (expected {', '.join(IMAGE_SUFFIXES[:4])} files, "
            "flat or in ROOT/<label>/ directories)"
        )
    return frames, layout


@dataclass(frozen=True)
class UriFolder:
    """A URI root as a :class:`~screenstate.recordings.frame.FrameSource` (frames carry
    their path inside the filesystem; the batch job reads them on the workers)."""

    root: str
    base: Root
    listed: tuple[Frame, ...]
    layout: str
    kind: str = "uri"
    approximate_times: bool = False
    notes: tuple[str, ...] = ()

    @classmethod
    def open(cls, root: str) -> UriFolder:
        base = Root.of(root)
        frames, layout = discover_uri_frames(base)
        return cls(str(root), base, tuple(frames), layout)

    @property
    def ordered(self) -> bool:
        return self.layout == "flat"

    def frames(self) -> Iterator[Frame]:
        return iter(self.listed)

    def actions(self) -> list[Action]:
        return []
