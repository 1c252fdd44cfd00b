"""Choose a model's CPU precision (and intra-op threads) by measuring on the machine at hand.

Whether bf16 beats fp32 on a CPU is not readable from its flags: on one 2-core Xeon with
``avx512_bf16`` (no AMX) torch bf16 GEMMs ran at 0.57x fp32 and OpenVINO bf16 OCR at 0.66x,
while on an AMD EPYC with the same flag bf16 was several times faster. So ``precision="auto"``
on CPU runs a short calibration the first time a model is loaded:

1. the model builds one runner per candidate (fp32 always; bf16/fp16 only where the
   runtime supports them natively on this CPU), each running a few inputs of the shapes the
   model will see;
2. each runner is warmed up once, then timed ``repeats`` times (the best time counts:
   noise from other processes only ever adds time);
3. a candidate qualifies when its outputs agree with fp32's within the model's documented
   tolerance (``agreement(reference, output) >= tolerance``, 1.0 = identical);
4. the fastest qualifying candidate wins, but fp32 (the exact reference) is kept unless the
   other is faster by more than ``margin`` (3%): a tie is not worth the rounding;
5. with the chosen precision, fewer intra-op threads are tried where ``thread_options``
   offers them, under the same margin.

The choice is cached on disk (``<cache dir>/calibration/*.json``, the cache dir being
``$SCREENSTATE_CACHE`` or ``$XDG_CACHE_HOME/screenstate``) keyed by model, runtime version,
CPU model and flags, and thread budget, so later processes skip the measurement; a new
CPU, runtime or thread budget calibrates again. ``screenstate models list`` prints the
cached choices for this machine. An explicit precision never calibrates.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Generic, TypeVar

from screenstate.atomic import atomic_write
from screenstate.embeddings.cache import default_cache_dir
from screenstate.hashing import digest

log = logging.getLogger("screenstate")

T = TypeVar("T")

#: a candidate must beat fp32 (or more threads) by this fraction to be chosen over it
MARGIN = 0.03


@dataclass(frozen=True)
class Trial:
    """One measured candidate: best seconds per calibration run, agreement with fp32."""

    precision: str
    threads: int
    seconds: float
    agreement: float
    ok: bool


@dataclass(frozen=True)
class Choice:
    """The precision and thread count a model runs with, and how they were decided.

    ``source``: ``calibrated`` (measured now), ``cache`` (measured earlier on this machine),
    ``explicit`` (asked for), or ``fixed`` (no choice to make, e.g. on GPU)."""

    precision: str
    threads: int
    source: str
    trials: tuple[Trial, ...] = ()

    def describe(self) -> str:
        timed = ", ".join(
            f"{t.precision}/{t.threads}t {1000 * t.seconds:.0f} ms"
            + ("" if t.ok else f" (disagrees {t.agreement:.4f})")
            for t in self.trials
        )
        return f"{self.precision}, {self.threads} threads ({self.source}{': ' + timed if timed else ''})"


@dataclass(frozen=True)
class CalibrationKey:
    """What a choice depends on; any change calibrates again."""

    model: str
    runtime: str
    threads: int
    cpu: str = field(default_factory=lambda: cpu_signature())

    def digest(self) -> str:
        return digest(json.dumps(asdict(self), sort_keys=True), size=8)


#: model -> the distinct choices it ran with in this process (benchmarks report them)
_USED: dict[str, list[str]] = {}


def record_use(model: str, choice: Choice) -> None:
    """Note the precision a loaded model actually runs with."""
    seen = _USED.setdefault(model, [])
    text = f"{choice.precision}, {choice.threads} threads ({choice.source})"
    if text not in seen:
        seen.append(text)


def used_precisions() -> dict[str, str]:
    """``{model: "bf16, 2 threads (calibrated)"}`` for the models loaded in this process
    (several choices, e.g. a benchmark comparing precisions, are joined with ``; ``)."""
    return {m: "; ".join(texts) for m, texts in sorted(_USED.items())}


def isa_class(flags: Sequence[str] | None = None) -> str:
    """The widest matrix instructions a CPU has (what decides bf16 speed): ``amx``,
    ``avx512_bf16``, ``avx512``, ``avx2`` or ``baseline``."""
    have = set(cpu_flags() if flags is None else flags)
    for name, flag in (("amx", "amx_bf16"), ("avx512_bf16", "avx512_bf16"), ("avx512", "avx512f"), ("avx2", "avx2")):
        if flag in have:
            return name
    return "baseline"


@cache
def _cpuinfo() -> tuple[str, str]:
    """(CPU model name, sorted flags) from /proc/cpuinfo; platform strings elsewhere."""
    import platform

    name, flags = "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not name:
                name = line.split(":", 1)[1].strip()
            elif line.startswith(("flags", "Features")) and not flags:
                flags = " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return name or platform.processor() or platform.machine(), flags


def cpu_model() -> str:
    return _cpuinfo()[0]


def cpu_flags() -> list[str]:
    """All CPU feature flags, sorted."""
    return _cpuinfo()[1].split()


def cpu_signature() -> str:
    """CPU model plus a short hash of its full flag list (the flags decide which kernels run)."""
    name, flags = _cpuinfo()
    return f"{name} [{digest(flags, size=4)}]"


def _usable_cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return set(range(os.cpu_count() or 1))


def torch_default_threads() -> int:
    """What ``torch.get_num_threads()`` starts from, without importing torch (a second, which
    ``screenstate models list`` need not pay): ``MKL_NUM_THREADS`` or ``OMP_NUM_THREADS`` when
    set, else the physical cores among the usable CPUs (torch counts cores, not hyper-threads)."""
    for var in ("MKL_NUM_THREADS", "OMP_NUM_THREADS"):  # torch lets MKL's override OMP's
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    cpus = _usable_cpus()
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(((topology / "physical_package_id").read_text(), (topology / "core_id").read_text()))
        except OSError:
            return len(cpus)  # no topology (not Linux, a container hiding /sys): every CPU
    return max(1, len(cores))


def thread_budget() -> int:
    """Intra-op threads this process may use without oversubscribing: the CPUs it may run
    on, lowered by torch's thread count (torch starts from ``OMP_NUM_THREADS`` itself, and a
    Ray encode worker sets it to its share of the cores). Torch is asked only when already
    imported; before that it would answer :func:`torch_default_threads`."""
    import sys

    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else torch_default_threads()
    return max(1, min(len(_usable_cpus()), threads))


def limit_threads(threads: int) -> None:
    """Cap this process's intra-op threads (a Ray worker's share of its node's cores):
    ``OMP_NUM_THREADS``, which :func:`thread_budget` (OCR, sentence model) reads and torch
    starts from when a CLIP channel imports it later; torch's own count when it is already
    imported. Imports no torch: the default channels need none."""
    import sys

    n = max(1, threads)
    os.environ["OMP_NUM_THREADS"] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def calibration_dir() -> Path:
    return default_cache_dir() / "calibration"


def _path(key: CalibrationKey, root: Path) -> Path:
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in key.model)[-60:]
    return root / f"{slug}-{key.digest()}.json"


def load_choice(key: CalibrationKey, root: Path | None = None) -> Choice | None:
    """The cached choice for ``key``, or None (absent or unreadable: calibrate again)."""
    p = _path(key, root or calibration_dir())
    try:
        data = json.loads(p.read_text())
        if data["key"] != asdict(key):
            return None
        trials = tuple(Trial(**t) for t in data["trials"])
        return Choice(str(data["precision"]), int(data["threads"]), "cache", trials)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_choice(key: CalibrationKey, choice: Choice, root: Path | None = None) -> None:
    root = root or calibration_dir()
    data = {
        "key": asdict(key),
        "precision": choice.precision,
        "threads": choice.threads,
        "trials": [asdict(t) for t in choice.trials],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        atomic_write(_path(key, root), json.dumps(data, indent=1) + "\n")
    except OSError as e:  # a read-only cache only costs a calibration next time
        log.warning("could not save the calibration to %s: %s", root, e)


def cached_choices(root: Path | None = None, this_machine: bool = True) -> list[tuple[CalibrationKey, Choice]]:
    """Every cached choice (by default only those measured on this CPU), sorted by model."""
    out = []
    for p in sorted((root or calibration_dir()).glob("*.json")):
        try:
            data = json.loads(p.read_text())
            key = CalibrationKey(**data["key"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        choice = load_choice(key, root or calibration_dir())
        if choice is not None and (not this_machine or key.cpu == cpu_signature()):
            out.append((key, choice))
    return sorted(out, key=lambda kc: (kc[0].model, kc[0].threads))


@dataclass(frozen=True)
class Calibration(Generic[T]):
    """How to measure one model.

    ``build(precision, threads)`` returns a runner: one call runs the calibration inputs and
    returns the outputs; ``agreement(fp32_outputs, outputs)`` scores them in [0, 1]."""

    key: CalibrationKey
    build: Callable[[str, int], Callable[[], T]]
    agreement: Callable[[T, T], float]
    tolerance: float
    candidates: Sequence[str] = ("fp32", "bf16")
    thread_options: Sequence[int] = ()
    repeats: int = 2


def choose(
    cal: Calibration[T],
    *,
    cache_root: Path | None = None,
    timer: Callable[[], float] = time.perf_counter,
    use_cache: bool = True,
) -> Choice:
    """The cached choice for ``cal.key``, else measure (see module docstring) and cache it."""
    if use_cache:
        hit = load_choice(cal.key, cache_root)
        if hit is not None:
            return hit
    t0 = timer()
    threads = cal.key.threads
    trials: list[Trial] = []

    def measure(precision: str, n_threads: int, reference: T | None) -> tuple[Trial, T]:
        run = cal.build(precision, n_threads)
        out = run()  # warm-up: first-shape compilation, thread pools, caches
        best = float("inf")
        for _ in range(max(1, cal.repeats)):
            start = timer()
            out = run()
            best = min(best, timer() - start)
        agree = 1.0 if reference is None else float(cal.agreement(reference, out))
        trial = Trial(precision, n_threads, best, agree, agree >= cal.tolerance)
        trials.append(trial)
        return trial, out

    base, reference = measure("fp32", threads, None)
    best = base
    for precision in cal.candidates:
        if precision == "fp32":
            continue
        trial, _ = measure(precision, threads, reference)
        if trial.ok and trial.seconds < best.seconds * (1.0 - MARGIN):
            best = trial
    for n in sorted({n for n in cal.thread_options if 0 < n < threads}, reverse=True):
        trial, _ = measure(best.precision, n, reference)
        if trial.ok and trial.seconds < best.seconds * (1.0 - MARGIN):
            best = trial
    choice = Choice(best.precision, best.threads, "calibrated", tuple(trials))
    log.info("calibrated %s in %.1f s: %s", cal.key.model, timer() - t0, choice.describe())
    save_choice(cal.key, choice, cache_root)
    return choice
