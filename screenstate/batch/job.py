"""classify_directory on Ray Data.

Stages:

1. list frames (flat or labeled layout) and hash each file's bytes (threads here for a
   local root; Ray tasks on the workers for a URI root);
2. de-duplicate identical frames and skip those already in the embedding cache;
3. Ray Data: read + decode + preprocess, encode in this process (one machine) or in an
   autoscaling actor pool (a cluster; ``batch/encode.py``); features come back through
   Ray and only this process writes them to the on-disk cache (atomic per frame);
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

from screenstate.batch.encode import encode_with_actors, hash_on_ray, init_ray, is_multi_node, prepared_for_driver
from screenstate.batch.layout import Frame, scan_root
from screenstate.batch.listing import printable
from screenstate.batch.metrics import evaluate
from screenstate.batch.sequence import SequenceOptions
from screenstate.batch.sources import Root, discover_uri_frames, hash_frame
from screenstate.classify import ScreenClassifier
from screenstate.embeddings.cache import FeatureCache, default_cache_dir
from screenstate.embeddings.defaults import DEFAULT_MAX_PIXELS
from screenstate.embeddings.factory import EncoderOptions
from screenstate.embeddings.features import ScreenFeatures
from screenstate.errors import ScreenstateError
from screenstate.results import ClassificationResult
from screenstate.schema import ClassSpec

log = logging.getLogger("screenstate")


@dataclass
class JobConfig:
    """Everything a classify_directory run needs."""

    #: a local directory, or a URI every Ray node can read (s3://, gs://, file:// on a shared mount)
    root: Path | str
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
    #: refuse frames with more decoded pixels (the CLI's --max-pixels / SCREENSTATE_MAX_PIXELS)
    max_pixels: int = DEFAULT_MAX_PIXELS
    none_label: str = "unknown"
    progress: bool = True
    #: where images are encoded: "actors" (a Ray actor pool; what a cluster needs), "driver"
    #: (this process, fed by Ray preprocessing tasks), or "auto" (driver on a local Ray)
    encode_in: str = "auto"
    #: CPUs (and torch threads) per encoding actor on CPU nodes (clamped to the largest node)
    cpus_per_actor: int = 4
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
    #: Ray node ids that encoded frames in this run (empty when everything came from the cache)
    encode_nodes: tuple[str, ...] = ()
    #: directory entries that were not read, each with the reason (also logged as warnings)
    skipped: list[str] = field(default_factory=list)

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
                lines.append(f"  unreadable: {printable(r.path)}: {printable(r.error)}")
        lines += [f"  not read: {s}" for s in self.skipped]
        if self.metrics:
            lines.append(f"accuracy {self.metrics['accuracy']:.3f} on {self.metrics['n']} frames")
            for name, m in self.metrics["per_class"].items():
                lines.append(
                    f"  {name:24s} P {m['precision']:.2f}  R {m['recall']:.2f}  F1 {m['f1']:.2f}  n {m['support']}"
                )
        lines += [f"wrote {o}" for o in self.outputs]
        return "\n".join(lines)


def _ray_started() -> bool:
    import ray

    return bool(ray.is_initialized())


def _hash_file(frame: Frame, root: Root) -> tuple[str | None, str | None]:
    if frame.error is not None:  # a broken link, a FIFO: known from listing, never opened
        return None, f"{printable(frame.path)}: {frame.error}"
    return hash_frame(root, str(frame.path))


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
        self.root = Root.of(config.root)
        self._fresh: dict[str, ScreenFeatures] = {}  # features encoded during run(), by content hash
        self.encode_nodes: set[str] = set()
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
            max_pixels=config.max_pixels,
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
        cfg = self.config
        init_ray(cfg.ray_address)
        driver = cfg.encode_in == "driver" or (cfg.encode_in == "auto" and not is_multi_node())
        clf = self.classifier
        if driver:
            import ray

            self.encode_nodes.add(ray.get_runtime_context().get_node_id())
            blocks = prepared_for_driver(self.root, todo, clf.encoder.preparer(), clf.max_pixels)
        else:
            blocks = encode_with_actors(
                self.root, todo, clf.encoder.name, cfg.options, clf.max_pixels, cfg.batch_size, cfg.cpus_per_actor
            )
        errors: dict[str, str] = {}
        with _Progress(len(todo), enabled=cfg.progress) as progress:
            # whole blocks as they finish (a few frames each): the first result comes early
            for batch in blocks:
                for h, e in zip(batch["hash"], batch["error"]):
                    if e:
                        errors[str(h)] = str(e)
                ok = [i for i, e in enumerate(batch["error"]) if not e]
                if ok and driver:
                    hashes = [str(batch["hash"][i]) for i in ok]
                    feats = clf.encode_prepared(hashes, [pickle.loads(batch["prepared"][i]) for i in ok])
                    self._fresh.update(zip(hashes, feats))  # no need to read them back from disk
                elif ok:
                    self._store_from_actors(batch, ok)
                progress.advance(len(batch["hash"]))
                if cfg.on_encoded is not None:
                    cfg.on_encoded(len(self._fresh))
        return len(self._fresh), errors

    def _store_from_actors(self, batch: dict[str, Any], ok: list[int]) -> None:
        """Features that came back from the actors: into the disk cache (written here, by the
        driver only) and into memory for this run. Keyed by hash: a retried batch that
        arrives twice changes nothing."""
        channels = self.classifier.encoder.channels
        ids = "\n".join(ch.model_id for ch in channels)
        for i in ok:
            if str(batch["model_ids"][i]) != ids:
                raise ScreenstateError(
                    f"encoding actors produced features of {batch['model_ids'][i]!r}, the driver expects {ids!r}: "
                    "install the same screenstate version and model weights on every node"
                )
            h = str(batch["hash"][i])
            feats = {}
            for c, ch in enumerate(channels):
                blob = bytes(batch[f"feat_{c}"][i])
                self.cache.put(ch.model_id, h, blob)
                feats[ch.name] = ch.loads(blob)
            self._fresh[h] = ScreenFeatures.from_channels(feats)
            self.encode_nodes.add(str(batch["node"][i]))

    def run(self) -> JobSummary:
        cfg = self.config
        t0 = time.perf_counter()
        from screenstate.batch import ordered
        from screenstate.batch.video import find_video

        root = self.root
        video = find_video(cfg.root) if root.uri is None else None
        if video is not None:
            return ordered.run_video(self, video)
        if cfg.sequence.fps is not None:
            raise ScreenstateError(
                f"--fps samples a video; --root {cfg.root} is an image recording (every file is a frame)"
            )
        skipped: list[str] = []
        if root.uri is None:
            listing = scan_root(cfg.root)
            frames, layout = listing.frames, listing.layout
            skipped = [s.describe() for s in listing.skipped]
            if layout == "flat" and cfg.sequence.gate == "on":
                return ordered.run_gated_folder(self, frames)
            with ThreadPoolExecutor(max_workers=8) as pool:
                hashed = list(pool.map(lambda f: _hash_file(f, root), frames))
        else:  # listed here, read and hashed on the workers
            frames, layout = discover_uri_frames(root)
            init_ray(cfg.ray_address)
            by_path = hash_on_ray(root, [str(f.path) for f in frames])
            hashed = [by_path[str(f.path)] for f in frames]
        if cfg.eval_only and layout != "labeled":
            raise ScreenstateError(f"--eval_only needs the labeled layout ROOT/<label>/*; {cfg.root} is flat")
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
        features: dict[str, ScreenFeatures] = dict(cached)
        for h in todo:
            if h not in decode_errors:
                got = self._fresh.pop(h, None)
                if got is None:  # a bug, never a silent drop
                    decode_errors[h] = "features missing after encoding (internal error; please report)"
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
                res = replace(res, source=root.display(f.path))
            rows.append(FrameRow(root.display(f.path), f.label, h, res, err))
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
            encode_nodes=tuple(sorted(self.encode_nodes)),
            skipped=skipped,
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
                    line = [printable(r.path)]
                    if labeled:
                        line += [printable(r.label or ""), pred, str(self._eval_pred(r) == r.label)]
                    else:
                        line += [pred]
                    w.writerow(line + [state, printable(r.error or "")])

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

            # non-UTF-8 file names and labels are written with backslash escapes
            html = printable(render_report(rows, layout, metrics, self.classifier.names, self.config.none_label))
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
                "path": printable(r.path),
                **{k: getattr(r, k) for k in extra},
                "label": None if r.label is None else printable(r.label),
                "pred": r.result.pred if r.result else None,
                "state": r.result.state if r.result else None,
                "error": None if r.error is None else printable(r.error),
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
