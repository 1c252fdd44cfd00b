"""Shared helpers for benchmarks: dev-set files and timing."""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from run import DEV

if TYPE_CHECKING:
    from screenstate import ClassSpec


def dev_files(limit: int | None = None, size: tuple[int, int] | None = None) -> list[Path]:
    """Labeled dev screenshots (optionally only one resolution), sorted."""
    if not DEV.is_dir():
        raise SystemExit(f"dev set not found at {DEV} (set SCREENSTATE_DEV)")
    files = sorted(p for p in DEV.glob("*/*.png") if p.parent.name != "recording")
    if size is not None:
        from PIL import Image

        files = [p for p in files if Image.open(p).size == size]
    return files[:limit] if limit else files


def recording_files() -> list[Path]:
    return sorted((DEV / "recording").glob("*.png"))


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def latencies(fn: Callable[[object], object], items: list) -> list[float]:
    """Seconds of ``fn(item)`` for each item, in order."""
    return [timed(lambda it=it: fn(it)) for it in items]


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def recall_table(names: list[str], **runs: dict) -> list[dict]:
    """Per-class rows ``{"class", <run>: recall..., "support"}`` from ``evaluate()`` metrics;
    support is the first run's."""
    first = next(iter(runs.values()))
    return [
        {
            "class": n,
            **{k: m["per_class"][n]["recall"] for k, m in runs.items()},
            "support": first["per_class"][n]["support"],
        }
        for n in names
    ]


def without_negatives(spec: ClassSpec) -> ClassSpec:
    """The same class file with every examples_to_exclude emptied."""
    from screenstate import ClassSpec

    data = spec.model_dump()
    for c in data["classifier_configs"]:
        c["examples_to_exclude"] = []
    return ClassSpec.from_dict(data)


HELDOUT = Path(__file__).resolve().parent / "heldout"


def heldout_sets() -> dict[str, list[Path]]:
    """Held-out sets of other software (``benchmarks/heldout/<set>/<state>/*.png``), by set
    name; see each set's PROVENANCE.md. Evaluation only: nothing is tuned on them."""
    return {
        d.name: sorted(d.glob("*/*.png"))
        for d in sorted(HELDOUT.iterdir())
        if d.is_dir() and not d.name.startswith(".") and any(d.glob("*/*.png"))
    }


def _cached_per_file(cache_path: Path, key: str, files: list[Path], compute: Callable[[Path], Any]) -> dict[str, Any]:
    """``compute(file)`` per file, stored in the JSON ``cache_path`` under ``key`` by the
    file's content hash (values must be JSON)."""
    store: dict[str, Any] = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    table = store.setdefault(key, {})
    out = {}
    for f in files:
        h = hashlib.sha256(f.read_bytes()).hexdigest()
        if h not in table:
            table[h] = compute(f)
        out[str(f)] = table[h]
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cache_path.write_text(json.dumps(store))
    return out


def raw_lines(channel: Any, files: list[Path], cache_path: Path | None = None) -> dict[str, list[Any]]:
    """Raw OCR lines per file (before any text-channel rule), cached by content hash."""
    from screenstate.embeddings.images import load_image
    from screenstate.embeddings.ocr import TextLine

    def read(f: Path) -> list[Any]:
        lines = channel.read_lines(channel.prepare(load_image(str(f))))
        return [[list(ln.box), ln.text, ln.confidence] for ln in lines]

    cache_path = cache_path or Path(__file__).resolve().parent / ".cache" / "ocr_lines.json"
    key = channel.model_id.split(":", 2)[2]  # OCR + preparation settings, not FEATURE_VERSION
    raw = _cached_per_file(cache_path, key, files, read)
    return {f: [TextLine(tuple(b), t, c) for b, t, c in rows] for f, rows in raw.items()}


def foreground_boxes(channel: Any, files: list[Path], cache_path: Path | None = None) -> dict[str, Any]:
    """The text channel's foreground window per file (``find_foreground`` on the prepared
    image, as ``TextChannel.encode`` does), cached by content hash next to the OCR lines."""
    import screenstate.screen.foreground as fg
    from screenstate.embeddings.images import load_image
    from screenstate.screen.windows import Box

    def find(f: Path) -> list[int] | None:
        box = fg.find_foreground(channel.prepare(load_image(str(f))))
        return None if box is None else [box.x0, box.y0, box.x1, box.y1]

    cache_path = cache_path or Path(__file__).resolve().parent / ".cache" / "foreground.json"
    # preparation settings plus the finder's own source: a changed finder is re-run
    finder = hashlib.sha256(Path(fg.__file__).read_bytes()).hexdigest()[:12]
    key = f"{channel.model_id.split(':', 2)[2]}:{finder}"
    boxes = _cached_per_file(cache_path, key, files, find)
    return {f: None if b is None else Box(*b) for f, b in boxes.items()}


def git_commit() -> str:
    """The commit of the measured code (``screenstate/`` and ``benchmarks/``), with
    ``-dirty`` when either has uncommitted changes, so a result names what it measured."""
    import subprocess

    from run import ROOT

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--", "screenstate", "benchmarks/*.py")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("-dirty" if dirty else "")


#: CPU features that decide which precision and kernels are fast
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_flags() -> list[str]:
    """The :data:`CPU_FLAGS` this machine has (from /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
    return [f for f in CPU_FLAGS if f in flags]


def labeled_devset_root() -> Path:
    """``benchmarks/.devset``: the dev set's class directories without ``recording/``
    (symlinks; ignored by git), so a job over it reads exactly :func:`dev_files`."""
    from run import HERE

    root = HERE / ".devset"
    root.mkdir(exist_ok=True)
    for d in sorted(DEV.iterdir()):
        if d.is_dir() and d.name != "recording" and not (root / d.name).exists():
            (root / d.name).symlink_to(d.resolve())
    return root
