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

import logging
import pickle
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from screenstate.batch.config import JobConfig
from screenstate.batch.encode import encode_with_actors, prepared_for_driver
from screenstate.batch.frame_hashes import hash_local, hash_on_ray
from screenstate.batch.local import LOCAL_MAX_FRAMES, prepared_in_threads
from screenstate.batch.ordered import run_gated_folder, run_source, run_video
from screenstate.batch.outputs import job_accuracy, job_metrics, with_labels_csv, write_outputs
from screenstate.batch.progress import EncodeProgress
from screenstate.batch.ray_setup import init_ray, is_multi_node, ray_started
from screenstate.batch.sources import Root
from screenstate.batch.summary import FrameRow, JobSummary
from screenstate.classify import ScreenClassifier
from screenstate.embeddings.cache import FeatureCache, default_cache_dir
from screenstate.embeddings.feature_store import channel_model_ids
from screenstate.embeddings.features import ScreenFeatures
from screenstate.errors import ScreenstateError
from screenstate.recordings import FrameSource, open_recording
from screenstate.recordings.video import VideoFile
from screenstate.schema import ClassSpec

__all__ = ["BatchJob", "FrameRow", "JobConfig", "JobSummary"]

log = logging.getLogger("screenstate")


class BatchJob:
    """Runs one classify_directory job (see module docstring)."""

    def __init__(self, config: JobConfig) -> None:
        self.config = config
        if config.encode_in not in ("auto", "local", "driver", "actors"):
            from screenstate.errors import UnknownNameError

            raise UnknownNameError("encode_in", config.encode_in, ["auto", "local", "driver", "actors"])
        if config.scores_file is not None and config.scores_file.suffix not in (".jsonl", ".parquet"):
            raise ScreenstateError(f"--scores {config.scores_file}: use a .jsonl or .parquet file name")
        if config.output is not None and config.output.suffix.lower() != ".csv":
            raise ScreenstateError(f"--output {config.output}: must be a .csv file")
        self.cache = FeatureCache(config.cache_dir or default_cache_dir())
        self.root = Root.of(config.root)
        self._fresh: dict[str, ScreenFeatures] = {}  # features encoded during run(), by content hash
        self.encode_nodes: set[str] = set()
        ClassSpec.from_json(config.classes)  # a bad class file fails here, before any work
        self._source = self._precheck()  # so do a missing root and a layout the options do not fit
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

    # -- stages -------------------------------------------------------------------------
    def _encode_missing(self, todo: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Encode distinct uncached frames (on Ray unless the job is small); returns (encoded count, hash -> error)."""
        if not todo:
            return 0, {}
        cfg = self.config
        local = self._local(len(todo))
        if not local:
            init_ray(cfg.ray_address)
        driver = local or cfg.encode_in == "driver" or (cfg.encode_in == "auto" and not is_multi_node())
        clf = self.classifier
        blocks: Any
        if local:  # no Ray at all (batch/local.py)
            blocks = prepared_in_threads(self.root, todo, clf.encoder.preparer(), clf.max_pixels)
        elif driver:
            import ray

            self.encode_nodes.add(ray.get_runtime_context().get_node_id())
            blocks = prepared_for_driver(self.root, todo, clf.encoder.preparer(), clf.max_pixels)
        else:
            blocks = encode_with_actors(
                self.root, todo, clf.encoder.name, cfg.options, clf.max_pixels, cfg.batch_size, cfg.cpus_per_actor
            )
        errors: dict[str, str] = {}
        with EncodeProgress(len(todo), enabled=cfg.progress) as progress:
            # whole blocks as they finish (a few frames each): the first result comes early
            for batch in blocks:
                for h, e in zip(batch["hash"], batch["error"]):
                    if e:
                        errors[str(h)] = str(e)
                ok = [i for i, e in enumerate(batch["error"]) if not e]
                if ok and driver:
                    hashes = [str(batch["hash"][i]) for i in ok]
                    feats = clf.store.encode_prepared(hashes, [pickle.loads(batch["prepared"][i]) for i in ok])
                    self._fresh.update(zip(hashes, feats))  # no need to read them back from disk
                elif ok:
                    self._store_from_actors(batch, ok)
                progress.advance(len(batch["hash"]))
                if cfg.on_encoded is not None:
                    cfg.on_encoded(len(self._fresh))
        return len(self._fresh), errors

    def _precheck(self) -> FrameSource | None:
        """The local recording, opened, or errors that need no model: --eval_only on a flat
        folder or a video, --fps on images, --actions on a recording without actions, a root
        without frames (None for a URI root, listed on the workers)."""
        cfg = self.config
        if self.root.uri is not None:
            return None
        source = open_recording(cfg.root, max_pixels=cfg.max_pixels, fps=cfg.sequence.fps)
        self._check_source(source)
        return source

    def _check_source(self, source: FrameSource) -> None:
        cfg = self.config
        if cfg.actions is not None and source.kind not in ("openadapt", "flow"):
            raise ScreenstateError(
                f"--actions: {cfg.root} is a {source.kind} recording, which keeps no user actions "
                "(an OpenAdapt capture or an openadapt-flow recording does)"
            )
        if cfg.eval_only and source.layout != "labeled":
            raise ScreenstateError(
                f"--eval_only needs the labeled layout ROOT/<label>/*; {cfg.root} is a {source.kind} recording"
                + (" (flat)" if source.kind == "folder" else "")
            )

    def _local(self, n_frames: int) -> bool:
        """Whether frames are prepared in this process's threads, without Ray (batch/local.py)."""
        cfg = self.config
        if cfg.encode_in == "local":
            return True
        small = n_frames <= LOCAL_MAX_FRAMES and not cfg.ray_address and self.root.uri is None
        return cfg.encode_in == "auto" and small and not ray_started()

    def _store_from_actors(self, batch: dict[str, Any], ok: list[int]) -> None:
        """Features that came back from the actors: into the feature store (its disk cache is
        written here, by the driver only) and into memory for this run. Keyed by hash: a
        retried batch that arrives twice changes nothing."""
        store = self.classifier.store
        ids = channel_model_ids(store.encoder)
        for i in ok:
            if str(batch["model_ids"][i]) != ids:
                raise ScreenstateError(
                    f"encoding actors produced features of {batch['model_ids'][i]!r}, the driver expects {ids!r}: "
                    "install the same screenstate version and model weights on every node"
                )
            h = str(batch["hash"][i])
            blobs = [bytes(batch[f"feat_{c}"][i]) for c in range(len(store.encoder.channels))]
            self._fresh[h] = store.put_serialized(h, blobs)
            self.encode_nodes.add(str(batch["node"][i]))

    def run(self) -> JobSummary:
        cfg = self.config
        t0 = time.perf_counter()
        source = self._source
        if source is None:
            source = open_recording(cfg.root, max_pixels=cfg.max_pixels, fps=cfg.sequence.fps)
            self._check_source(source)
        if isinstance(source, VideoFile):
            return run_video(cfg, self.classifier, source)
        if source.kind in ("openadapt", "flow"):
            return run_source(cfg, self.classifier, source)
        root = self.root
        frames = list(source.frames())
        layout = source.layout
        skipped = [n.removeprefix("not read: ") for n in source.notes]
        if root.uri is None:
            if layout == "flat" and cfg.sequence.gate == "on":
                return run_gated_folder(cfg, self.classifier, frames)
            hashed = hash_local(root, frames)
        else:  # listed here, read and hashed on the workers
            init_ray(cfg.ray_address)
            by_path = hash_on_ray(root, [str(f.path) for f in frames])
            hashed = [by_path[str(f.path)] for f in frames]
        distinct: dict[str, str] = {}
        for f, (h, _) in zip(frames, hashed):
            if h is not None:
                distinct.setdefault(h, str(f.path))
        if distinct and not ray_started() and not self._local(len(distinct)) and self.cache.any_missing(list(distinct)):
            init_ray(cfg.ray_address)  # overlaps with the model load
        cached = {h: cf for h in distinct if (cf := self.classifier.store.cached(h)) is not None}
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
                res = replace(res, source=root.display(f.file))
            rows.append(FrameRow(root.display(f.file), f.label, h, res, err))
        rows = with_labels_csv(rows, cfg.root) if root.uri is None else rows
        labeled = any(r.label is not None for r in rows)
        metrics = job_metrics(rows, self.classifier.names, cfg.none_label) if labeled else None
        accuracy = job_accuracy(rows, cfg.none_label)
        outputs = write_outputs(cfg, rows, layout, metrics, self.classifier.names, accuracy)
        return JobSummary(
            n_frames=len(rows),
            n_distinct=len(distinct),
            n_errors=sum(r.error is not None for r in rows),
            encoded=encoded,
            cached=len(cached),
            seconds=time.perf_counter() - t0,
            layout=layout,
            metrics=metrics,
            accuracy=accuracy,
            rows=rows,
            outputs=outputs,
            encode_nodes=tuple(sorted(self.encode_nodes)),
            skipped=skipped,
        )
