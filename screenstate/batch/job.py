"""classify_directory on Ray Data.

Stages:

1. list frames (flat or labeled layout) and hash each file's bytes (threads; cheap);
2. de-duplicate identical frames and skip those already in the embedding cache;
3. Ray Data: decode + validate + preprocess in parallel tasks, encode in an actor pool
   (batched); the actors write features to the on-disk cache (atomic per frame);
4. classify every distinct frame from cached features (milliseconds), fan results back
   out to every frame, write CSV / scores / metrics / report atomically.

A frame that cannot be read is a row with an ``error`` and no prediction; it is counted
and never dropped. Because features land in the cache frame by frame, an interrupted
run resumes (``--resume``) without re-encoding finished frames, and re-running with an
edited class file encodes nothing.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from screenstate.batch.layout import discover_frames
from screenstate.batch.metrics import evaluate
from screenstate.batch.prepare import prepare_batch
from screenstate.batch.sequence import SequenceOptions
from screenstate.classify import ScreenClassifier
from screenstate.embeddings.cache import FeatureCache, default_cache_dir
from screenstate.embeddings.factory import EncoderOptions, create_encoder
from screenstate.embeddings.images import bytes_hash
from screenstate.errors import ScreenstateError
from screenstate.results import ClassificationResult
from screenstate.schema import ClassSpec

log = logging.getLogger("screenstate")


@dataclass
class JobConfig:
    """Everything a classify_directory run needs."""

    root: Path
    classes: Path
    output: Path | None = None
    scores_file: Path | None = None
    metrics_json: Path | None = None
    report: Path | None = None
    cache_dir: Path | None = None
    resume: bool = False
    ray_address: str | None = None
    batch_size: int = 32
    encoder: str = "auto"
    options: EncoderOptions = field(default_factory=EncoderOptions)
    min_score: float | None = None
    eval_only: bool = False
    none_label: str = "unknown"
    progress: bool = True
    #: where images are encoded: "actors" (a Ray actor pool; what a cluster needs), "driver"
    #: (this process, fed by Ray preprocessing tasks), or "auto" (driver on a local Ray)
    encode_in: str = "auto"
    #: test hook: called after each encoded batch with the running count of encoded frames
    on_encoded: Callable[[int], None] | None = None
    #: videos and ordered folders: change gating, --fps, --segments (batch/ordered.py)
    sequence: SequenceOptions = field(default_factory=SequenceOptions)


@dataclass(frozen=True)
class FrameRow:
    """One output row (one per input frame, always)."""

    path: str
    label: str | None
    content_hash: str | None
    result: ClassificationResult | None
    error: str | None

    @property
    def predicted(self) -> str | None:
        return None if self.result is None else self.result.pred


@dataclass
class JobSummary:
    """What a run did."""

    n_frames: int
    n_distinct: int
    n_errors: int
    encoded: int
    cached: int
    seconds: float
    layout: str
    metrics: dict[str, Any] | None
    rows: list[FrameRow]
    outputs: list[str]

    @property
    def frames_per_second(self) -> float:
        return self.n_frames / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        lines = [
            f"{self.n_frames} frames ({self.layout}), {self.n_distinct} distinct, "
            f"{self.encoded} encoded, {self.cached} from cache, {self.n_errors} unreadable; "
            f"{self.seconds:.1f} s ({self.frames_per_second:.1f} frames/s)"
        ]
        for r in self.rows:
            if r.error:
                lines.append(f"  unreadable: {r.path}: {r.error}")
        if self.metrics:
            lines.append(f"accuracy {self.metrics['accuracy']:.3f} on {self.metrics['n']} frames")
            for name, m in self.metrics["per_class"].items():
                lines.append(
                    f"  {name:24s} P {m['precision']:.2f}  R {m['recall']:.2f}  F1 {m['f1']:.2f}  n {m['support']}"
                )
        lines += [f"wrote {o}" for o in self.outputs]
        return "\n".join(lines)


# -- Ray stages (module-level so they pickle) ---------------------------------------
class _EncodeWorker:
    """Ray actor: owns the encoder, writes features to the disk cache."""

    def __init__(self, encoder: str, options_json: str, cache_dir: str, threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        os.environ["OMP_NUM_THREADS"] = str(max(1, threads))
        self.encoder = create_encoder(encoder, EncoderOptions.model_validate_json(options_json))
        self.cache = FeatureCache(cache_dir)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        ok = [i for i, e in enumerate(batch["error"]) if not e]
        if ok:
            prepared = [pickle.loads(batch["prepared"][i]) for i in ok]
            feats = self.encoder.encode(prepared)
            for i, f in zip(ok, feats):
                for ch in self.encoder.channels:
                    self.cache.put(ch.model_id, str(batch["hash"][i]), ch.dumps(f[ch.name]))
        return {
            "hash": [str(h) for h in batch["hash"]],
            "path": [str(p) for p in batch["path"]],
            "error": [str(e) for e in batch["error"]],
        }


def init_ray(address: str | None = None) -> None:
    """Connect to ``address`` (or RAY_ADDRESS), else start a quiet local Ray once."""
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
    if address is None:
        kwargs.update(include_dashboard=False, configure_logging=False)
    ray.init(address=address, **kwargs)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    try:
        ctx.print_on_execution_start = False
    except AttributeError:  # older Ray
        pass


def _ray_started() -> bool:
    import ray

    return bool(ray.is_initialized())


def _is_local_ray() -> bool:
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return len(nodes) <= 1


def _hash_file(path: Path) -> tuple[str | None, str | None]:
    try:
        data = path.read_bytes()
    except OSError as e:
        return None, f"{path}: cannot read ({e.strerror or e})"
    if not data:
        return None, f"{path}: empty file (0 bytes)"
    return bytes_hash(data), None


def _atomic_write(path: Path, write: Callable[[Any], object], mode: str = "w") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, mode, newline="" if "b" not in mode else None) as f:
            write(f)  # type: ignore[arg-type]
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BatchJob:
    """Runs one classify_directory job (see module docstring)."""

    def __init__(self, config: JobConfig) -> None:
        self.config = config
        if config.encode_in not in ("auto", "driver", "actors"):
            from screenstate.errors import UnknownNameError

            raise UnknownNameError("encode_in", config.encode_in, ["auto", "driver", "actors"])
        if config.scores_file is not None and config.scores_file.suffix not in (".jsonl", ".parquet"):
            raise ScreenstateError(f"--scores {config.scores_file}: use a .jsonl or .parquet file name")
        if config.output is not None and config.output.suffix.lower() != ".csv":
            raise ScreenstateError(f"--output {config.output}: must be a .csv file")
        self.cache = FeatureCache(config.cache_dir or default_cache_dir())
        self._fresh: dict[str, Any] = {}  # features encoded in this process during run()
        ClassSpec.from_json(config.classes)  # a bad class file fails here, before any work
        # models load in the background while run() lists and hashes frames and starts Ray
        self._loader = ThreadPoolExecutor(max_workers=1)
        self._classifier = self._loader.submit(
            ScreenClassifier,
            config.classes,
            encoder=config.encoder,
            options=config.options,
            cache=self.cache,
            min_score=config.min_score,
        )

    @property
    def classifier(self) -> ScreenClassifier:
        """The job's classifier (waits for the background model load; re-raises its errors)."""
        return self._classifier.result()

    def _probably_uncached(self, hashes: list[str]) -> bool:
        """Cheap guess, before the models are loaded, whether any frame still needs encoding
        (no cache entry under any model): if so Ray is started while the models load."""
        root = self.cache.root
        if not root.is_dir():
            return True
        model_dirs = [d for d in root.iterdir() if d.is_dir()]
        return any(not any((d / h[:2] / f"{h}.bin").exists() for d in model_dirs) for h in hashes)

    # -- stages -------------------------------------------------------------------------
    def _encode_missing(self, todo: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Encode distinct uncached frames on Ray; returns (encoded count, hash -> error)."""
        if not todo:
            return 0, {}
        import ray

        cfg = self.config
        init_ray(cfg.ray_address)
        enc = self.classifier.encoder
        items = [{"hash": h, "path": p} for h, p in todo.items()]
        threads = max(1, int(ray.cluster_resources().get("CPU", os.cpu_count() or 1)))
        ds: Any = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 4 * threads)))
        ds = ds.map_batches(
            prepare_batch,
            fn_kwargs={"preparer": enc.preparer(), "max_pixels": self.classifier.max_pixels},
            batch_size=4,
            batch_format="numpy",
            num_cpus=0.5,
        )
        driver = cfg.encode_in == "driver" or (cfg.encode_in == "auto" and _is_local_ray())
        if driver:
            return self._encode_in_driver(ds, len(items))
        ds = ds.map_batches(
            _EncodeWorker,
            fn_constructor_kwargs={
                "encoder": enc.name,
                "options_json": cfg.options.model_dump_json(),
                "cache_dir": str(self.cache.root),
                "threads": threads,
            },
            batch_size=cfg.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=1),
            num_cpus=1,
        )
        errors: dict[str, str] = {}
        encoded = 0
        progress = _Progress(len(items), enabled=cfg.progress)
        with progress:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for h, e in zip(batch["hash"], batch["error"]):
                    if e:
                        errors[str(h)] = str(e)
                    else:
                        encoded += 1
                progress.advance(len(batch["hash"]))
                if cfg.on_encoded is not None:
                    cfg.on_encoded(encoded)
        return encoded, errors

    def _encode_in_driver(self, ds: Any, total: int) -> tuple[int, dict[str, str]]:
        """Ray tasks decode and preprocess; this process encodes, streaming batch by batch
        (on one machine an actor would only add a second model load and a copy)."""
        cfg = self.config
        errors: dict[str, str] = {}
        encoded = 0
        with _Progress(total, enabled=cfg.progress) as progress:
            # whole blocks as they finish (a few frames each): the first result comes early
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                ok = [i for i, e in enumerate(batch["error"]) if not e]
                for i, e in enumerate(batch["error"]):
                    if e:
                        errors[str(batch["hash"][i])] = str(e)
                if ok:
                    hashes = [str(batch["hash"][i]) for i in ok]
                    feats = self.classifier.encode_prepared(hashes, [pickle.loads(batch["prepared"][i]) for i in ok])
                    self._fresh.update(zip(hashes, feats))  # no need to read them back from disk
                    encoded += len(ok)
                progress.advance(len(batch["hash"]))
                if cfg.on_encoded is not None:
                    cfg.on_encoded(encoded)
        return encoded, errors

    def run(self) -> JobSummary:
        cfg = self.config
        t0 = time.perf_counter()
        from screenstate.batch import ordered
        from screenstate.batch.video import find_video

        video = find_video(cfg.root)
        if video is not None:
            return ordered.run_video(self, video)
        if cfg.sequence.fps is not None:
            raise ScreenstateError(
                f"--fps samples a video; --root {cfg.root} is an image recording (every file is a frame)"
            )
        frames, layout = discover_frames(cfg.root)
        if layout == "flat" and cfg.sequence.gate == "on":
            return ordered.run_gated_folder(self, frames)
        if cfg.eval_only and layout != "labeled":
            raise ScreenstateError(f"--eval_only needs the labeled layout ROOT/<label>/*; {cfg.root} is flat")
        with ThreadPoolExecutor(max_workers=8) as pool:
            hashed = list(pool.map(lambda f: _hash_file(f.path), frames))
        distinct: dict[str, str] = {}
        for f, (h, _) in zip(frames, hashed):
            if h is not None:
                distinct.setdefault(h, str(f.path))
        if distinct and not _ray_started() and self._probably_uncached(list(distinct)):
            init_ray(cfg.ray_address)  # overlaps with the model load
        cached = {h: cf for h in distinct if (cf := self.classifier.cached_features(h)) is not None}
        if cfg.resume:
            log.warning("resume: %d of %d distinct frames already encoded", len(cached), len(distinct))
        todo = {h: p for h, p in distinct.items() if h not in cached}
        encoded, decode_errors = self._encode_missing(todo)
        features: dict[str, Any] = dict(cached)
        for h in todo:
            if h not in decode_errors:
                got = self._fresh.pop(h, None)
                if got is None:  # encoded by actors: the disk cache has it
                    got = self.classifier.cached_features(h)
                if got is None:
                    decode_errors[h] = "features missing after encoding (cache not writable?)"
                else:
                    features[h] = got
        ok_hashes = list(features)
        results = dict(zip(ok_hashes, self.classifier.classify_features([features[h] for h in ok_hashes])))
        rows = []
        for f, (h, err) in zip(frames, hashed):
            if err is None and h is not None:
                err = decode_errors.get(h)
            res = results.get(h) if h is not None and err is None else None
            if res is not None:
                res = replace(res, source=str(f.path))
            rows.append(FrameRow(str(f.path), f.label, h, res, err))
        metrics = self._metrics(rows) if layout == "labeled" else None
        outputs = self._write(rows, layout, metrics)
        return JobSummary(
            n_frames=len(rows),
            n_distinct=len(distinct),
            n_errors=sum(r.error is not None for r in rows),
            encoded=encoded,
            cached=len(cached),
            seconds=time.perf_counter() - t0,
            layout=layout,
            metrics=metrics,
            rows=rows,
            outputs=outputs,
        )

    # -- outputs ------------------------------------------------------------------------
    def _eval_pred(self, row: FrameRow) -> str:
        if row.result is None:
            return "<unreadable>"
        return row.result.state if row.result.state is not None else self.config.none_label

    def _metrics(self, rows: list[FrameRow]) -> dict[str, Any]:
        labeled = [r for r in rows if r.label is not None]
        m = evaluate([r.label or "" for r in labeled], [self._eval_pred(r) for r in labeled], self.classifier.names)
        m["unreadable"] = sum(r.error is not None for r in rows)
        return m

    def _write(self, rows: list[FrameRow], layout: str, metrics: dict[str, Any] | None) -> list[str]:
        cfg = self.config
        written = []
        if cfg.output is not None:
            labeled = layout == "labeled"
            header = ["path", "label", "pred", "is_correct"] if labeled else ["path", "pred"]
            header += ["state", "error"]

            def write_csv(f: Any) -> None:
                w = csv.writer(f)
                w.writerow(header)
                for r in rows:
                    pred = r.result.pred if r.result else ""
                    state = (r.result.state or "") if r.result else ""
                    line = [r.path]
                    if labeled:
                        line += [r.label or "", pred, str(self._eval_pred(r) == r.label)]
                    else:
                        line += [pred]
                    w.writerow(line + [state, r.error or ""])

            _atomic_write(cfg.output, write_csv)
            written.append(str(cfg.output))
        if cfg.scores_file is not None:
            self._write_scores(cfg.scores_file, rows)
            written.append(str(cfg.scores_file))
        if cfg.metrics_json is not None and metrics is not None:
            _atomic_write(cfg.metrics_json, lambda f: json.dump(metrics, f, indent=2))
            written.append(str(cfg.metrics_json))
        if cfg.report is not None:
            from screenstate.batch.report import render_report

            html = render_report(rows, layout, metrics, self.classifier.names, self.config.none_label)
            _atomic_write(cfg.report, lambda f: f.write(html))
            written.append(str(cfg.report))
        if cfg.sequence.segments is not None:
            from screenstate.batch.ordered import write_folder_segments

            written.append(write_folder_segments(self, rows, layout))
        return written

    def _write_scores(self, path: Path, rows: list[FrameRow]) -> None:
        # ordered recordings (batch/ordered.py) add where each row is in the recording
        extra = [k for k in ("frame_index", "time_s") if rows and hasattr(rows[0], k)]
        records: list[dict[str, Any]] = [
            {
                "path": r.path,
                **{k: getattr(r, k) for k in extra},
                "label": r.label,
                "pred": r.result.pred if r.result else None,
                "state": r.result.state if r.result else None,
                "error": r.error,
                "scores": r.result.scores if r.result else None,
                "raw_scores": r.result.raw_scores if r.result else None,
            }
            for r in rows
        ]
        if path.suffix == ".jsonl":
            _atomic_write(path, lambda f: f.writelines(json.dumps(rec) + "\n" for rec in records))
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = self.classifier.names
        table = pa.table(
            {
                "path": [r["path"] for r in records],
                **{k: [r[k] for r in records] for k in extra},
                "label": [r["label"] for r in records],
                "pred": [r["pred"] for r in records],
                "state": [r["state"] for r in records],
                "error": [r["error"] for r in records],
                **{f"raw_{n}": [r["raw_scores"][n] if r["raw_scores"] else None for r in records] for n in names},
                **{f"score_{n}": [r["scores"][n] if r["scores"] else None for r in records] for n in names},
            }
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)


class _Progress:
    """A rich progress bar with frames/s (silent when disabled or not a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self._p: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._p = Progress(
                TextColumn("encoding"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[fps]} frames/s"),
                TimeElapsedColumn(),
                transient=False,
            )
            self._p.start()
            self._task = self._p.add_task("encode", total=self.total, fps="-")
            self._t0 = time.perf_counter()
        return self

    def advance(self, n: int) -> None:
        if self._p is not None:
            done = self._p.tasks[0].completed + n
            fps = done / max(1e-6, time.perf_counter() - self._t0)
            self._p.update(self._task, advance=n, fps=f"{fps:.1f}")

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.stop()
