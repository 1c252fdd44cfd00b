"""The Ray side of a batch job: read, prepare and encode frames, and bring features back.

Encoded features come back to the driver in the dataset's output blocks (one bytes column
per feature channel, as the disk cache stores them): the driver alone writes the cache and
the outputs, so nothing depends on a filesystem the nodes share. Encoding runs either in
the driver (one machine: Ray tasks only decode) or in an autoscaling actor pool sized from
the cluster: one actor per GPU, or one per ``cpus_per_actor`` CPUs; each loads the model
once and encodes whole batches. A killed actor is restarted by Ray and its batch retried;
the driver keys results by content hash, so a retried batch can neither lose nor double a
frame.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from screenstate.batch.prepare import prepare_batch
from screenstate.batch.ray_setup import alive_nodes, is_multi_node
from screenstate.batch.sources import Root, fetch_batch, wire_path
from screenstate.embeddings.factory import EncoderOptions, create_encoder
from screenstate.embeddings.feature_store import channel_model_ids, dumps_features
from screenstate.errors import ScreenstateError

log = logging.getLogger("screenstate")


@dataclass(frozen=True)
class PoolPlan:
    """How many encoding actors, and what each one reserves."""

    max_actors: int
    num_cpus: float
    num_gpus: float
    threads: int


def plan_pool(options: EncoderOptions, cpus_per_actor: int) -> PoolPlan:
    """Size the actor pool from the cluster's nodes (GPUs when the encoder may use them)."""
    nodes = [n.get("Resources", {}) for n in alive_nodes()]
    gpus = sum(int(r.get("GPU", 0)) for r in nodes)
    if options.device.startswith("cuda") and gpus == 0:
        raise ScreenstateError(f"--device {options.device}: the Ray cluster has no GPUs; use --device cpu or auto")
    if gpus and options.device != "cpu":
        return PoolPlan(max_actors=gpus, num_cpus=1, num_gpus=1, threads=max(1, cpus_per_actor))
    biggest = max((int(r.get("CPU", 0)) for r in nodes), default=0)
    if biggest < 1:
        raise ScreenstateError("the Ray cluster has no CPUs and no GPUs to encode on; add a worker node")
    per = max(1, min(cpus_per_actor, biggest))
    if per < cpus_per_actor:
        log.warning("--cpus-per-actor %d: the largest node has %d CPUs; using %d", cpus_per_actor, biggest, per)
    actors = sum(int(r.get("CPU", 0)) // per for r in nodes)
    return PoolPlan(max_actors=max(1, actors), num_cpus=per, num_gpus=0, threads=per)


class EncodeWorker:
    """Ray actor: loads the encoder once; decodes, prepares and encodes a batch; returns
    the features as bytes (never writes them to its own node's disk)."""

    def __init__(self, encoder: str, options_json: str, threads: int, max_pixels: int) -> None:
        import ray

        from screenstate.embeddings.calibrate import limit_threads

        limit_threads(threads)
        self.encoder = create_encoder(encoder, EncoderOptions.model_validate_json(options_json))
        self.preparer = self.encoder.preparer()
        self.max_pixels = max_pixels
        self.node = ray.get_runtime_context().get_node_id()
        self.pool = ThreadPoolExecutor(max_workers=max(1, threads))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        n = len(batch["hash"])
        parts = [{k: v[i : i + 1] for k, v in batch.items()} for i in range(n)]
        prepared = list(self.pool.map(lambda b: prepare_batch(b, self.preparer, self.max_pixels), parts))
        errors = [p["error"][0] for p in prepared]
        ok = [i for i, e in enumerate(errors) if not e]
        channels = self.encoder.channels
        cols: list[list[bytes]] = [[b""] * n for _ in channels]
        if ok:
            feats = self.encoder.encode([pickle.loads(prepared[i]["prepared"][0]) for i in ok])
            for i, f in zip(ok, feats):
                for c, blob in enumerate(dumps_features(self.encoder, f)):
                    cols[c][i] = blob
        out: dict[str, list[Any]] = {
            "hash": [str(h) for h in batch["hash"]],
            "error": errors,
            "node": [self.node] * n,
            "model_ids": [channel_model_ids(self.encoder)] * n,
        }
        out.update({f"feat_{c}": col for c, col in enumerate(cols)})
        return out


def _blocks(n: int, per_block: int) -> int:
    return max(1, -(-n // max(1, per_block)))


def _chunked(todo: list[tuple[str, str]], per_block: int) -> Any:
    """A dataset of {hash, path} in blocks of exactly ``per_block`` rows, in frame order:
    each encoder batch is one block, so a retried batch holds the same frames and encodes
    to the same bytes (batch composition changes float rounding)."""
    import pyarrow as pa
    import ray

    step = max(1, per_block)
    tables = [
        pa.table({"hash": [h for h, _ in todo[i : i + step]], "path": [wire_path(p) for _, p in todo[i : i + step]]})
        for i in range(0, len(todo), step)
    ]
    return ray.data.from_arrow(tables)


def frames_dataset(root: Root, todo: dict[str, str], per_block: int, fetchers: int) -> Any:
    """Rows {hash, path, data, error} for the frames to encode, read where the root is
    readable: anywhere for a URI; on the driver's node for a local root on a cluster."""
    import ray

    pin: dict[str, Any] = {}
    if root.uri is None and is_multi_node():
        if ray.util.client.ray.is_connected():  # a ray:// address, given or from RAY_ADDRESS
            raise ScreenstateError(
                f"--root {root.path}: a local directory cannot be read through a Ray Client (ray://) "
                "connection; put the frames where every node can read them (s3://..., gs://..., a shared "
                "mount as file://...) or run the driver on a cluster node (ray job submit)"
            )
        # every node carries its id as a label (Ray's named argument; ray_remote_args_fn is deprecated)
        pin["label_selector"] = {"ray.io/node-id": ray.get_runtime_context().get_node_id()}
    ds = _chunked(list(todo.items()), per_block)
    blocks = _blocks(len(todo), per_block)
    # bounded: at most `fetchers` blocks of `per_block` frames are being read at once; I/O
    # only, so no CPU is reserved (a head node started with --num-cpus=0 can run them)
    return ds.map_batches(
        fetch_batch,
        fn_kwargs={"root": root},
        batch_format="numpy",
        num_cpus=0,
        compute=ray.data.TaskPoolStrategy(size=max(1, min(fetchers, blocks))),
        **pin,
    )


def encode_with_actors(
    root: Root,
    todo: dict[str, str],
    encoder: str,
    options: EncoderOptions,
    max_pixels: int,
    batch_size: int,
    cpus_per_actor: int,
) -> Iterator[dict[str, np.ndarray]]:
    """Encode ``todo`` (hash -> path) in an actor pool; yields output blocks
    {hash, error, node, model_ids, feat_<channel>...} as they finish."""
    import ray

    plan = plan_pool(options, cpus_per_actor)
    log.info("encoding in up to %d actors (%s)", plan.max_actors, plan)
    ds = frames_dataset(root, todo, per_block=batch_size, fetchers=2 * plan.max_actors)
    ds = ds.map_batches(
        EncodeWorker,
        fn_constructor_kwargs={
            "encoder": encoder,
            "options_json": options.model_dump_json(),
            "threads": plan.threads,
            "max_pixels": max_pixels,
        },
        batch_size=batch_size,
        batch_format="numpy",
        # start as many actors as there are batches (up to the cluster's size): a model load
        # takes seconds, too long to wait for the autoscaler on a short job; at most 2 batches
        # queue at an actor, so the work spreads over the pool
        compute=ray.data.ActorPoolStrategy(
            min_size=1,
            max_size=plan.max_actors,
            initial_size=min(plan.max_actors, _blocks(len(todo), batch_size)),
            max_tasks_in_flight_per_actor=2,
        ),
        num_cpus=plan.num_cpus,
        num_gpus=plan.num_gpus,
    )
    yield from ds.iter_batches(batch_size=None, batch_format="numpy")


def prepared_for_driver(
    root: Root, todo: dict[str, str], preparer: Any, max_pixels: int
) -> Iterator[dict[str, np.ndarray]]:
    """Blocks {hash, path, prepared, error} for encoding in this process (one machine)."""
    import ray

    threads = max(1, int(ray.cluster_resources().get("CPU", os.cpu_count() or 1)))
    ds = frames_dataset(root, todo, per_block=4, fetchers=2 * threads)  # small blocks: early first result
    ds = ds.map_batches(
        prepare_batch,
        fn_kwargs={"preparer": preparer, "max_pixels": max_pixels},
        batch_size=None,
        batch_format="numpy",
        num_cpus=0.5,
    )
    yield from ds.iter_batches(batch_size=None, batch_format="numpy")
