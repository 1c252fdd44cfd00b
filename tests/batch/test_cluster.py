"""classify_directory on a real two-node Ray cluster on loopback.

A head with no CPUs (the driver's node) and one worker node with 2 CPUs. As root the worker
node runs in its own mount namespace with a private tmpfs over this module's working
directory (recording, cache, outputs): a frame read from, or a feature written to, the
driver's local disk by a worker fails or vanishes there, as on a separate machine.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
from pathlib import Path

import pytest
from PIL import Image

import screenstate
from screenstate.batch.job import BatchJob, JobConfig
from screenstate.batch.loopback import LoopbackCluster, can_isolate
from screenstate.batch.ray_setup import init_ray

CLASSES = {
    "classifier_configs": [
        {"name": "red", "examples_to_include": ["a red screen"]},
        {"name": "green", "examples_to_include": ["a green screen"], "examples_to_exclude": ["a red screen"]},
    ]
}
REPO = Path(screenstate.__file__).resolve().parent.parent
ISOLATION = can_isolate()


def _png(color, size=(96, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def _recording(root: Path) -> None:
    root.mkdir(parents=True)
    for i in range(24):  # distinct frames, enough batches that an actor dies mid-run
        (root / f"frame_{i}.png").write_bytes(_png((255 - 8 * i, 8 * i, 0)))
    (root / "frame_24.png").write_bytes(_png((255, 0, 0)))  # duplicate of frame_0
    (root / "frame_25.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (root / "frame_26.png").write_bytes(b"")


def _config(root, base: Path, tiny_options, **kw) -> JobConfig:
    base.mkdir(parents=True, exist_ok=True)
    return JobConfig(
        root=root,
        classes=base.parent / "classes.json",
        output=base / "out.csv",
        scores_file=base / "scores.jsonl",
        cache_dir=base / "cache",
        encoder="clip",
        options=tiny_options,
        batch_size=2,
        cpus_per_actor=1,
        progress=False,
        **kw,
    )


def _scores(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _same_scores(got: list[dict], want: list[dict], paths_as=lambda p: p) -> None:
    """Same rows, predictions and errors; scores equal up to float rounding (runs differ by
    ~3e-5 in fp32: other batch sizes and thread counts, here and in the driver's text side)."""
    assert [paths_as(r["path"]) for r in got] == [r["path"] for r in want]
    for g, w in zip(got, want):
        assert (g["pred"], g["state"], g["error"] and paths_as(g["error"])) == (w["pred"], w["state"], w["error"])
        if w["raw_scores"] is not None:  # encoded in another process with other thread counts
            assert g["raw_scores"] == pytest.approx(w["raw_scores"], abs=1e-4)


def _worker_raylet(marker: str) -> int:
    """pid of the worker node's raylet (the one in another mount namespace)."""
    own = os.readlink("/proc/self/ns/mnt")
    for d in Path("/proc").iterdir():
        try:
            if not d.name.isdigit() or b"raylet" not in (d / "cmdline").read_bytes()[:200]:
                continue
            if marker.encode() in (d / "environ").read_bytes() and os.readlink(d / "ns/mnt") != own:
                return int(d.name)
        except OSError:
            continue
    raise AssertionError("worker raylet not found")


def _encode_actor_pids(marker: str) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and b"MapWorker" in (d / "cmdline").read_bytes():
                if marker.encode() in (d / "environ").read_bytes():
                    pids.append(int(d.name))
        except OSError:
            continue
    return pids


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, tiny_options):
    """(cluster, work dir private to the worker node, expected local-run scores)."""
    import ray

    work = tmp_path_factory.mktemp("cluster-work")
    (work / "classes.json").write_text(json.dumps(CLASSES))
    _recording(work / "rec")
    # the reference: the same job on a local, single-node Ray
    if ray.is_initialized():
        ray.shutdown()
    init_ray()
    BatchJob(_config(work / "rec", work / "local", tiny_options)).run()
    ray.shutdown()
    expected = _scores(work / "local" / "scores.jsonl")

    c = LoopbackCluster(env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    try:
        c.start_head()
        c.add_worker(2, private=[work] if ISOLATION is None else None)
        init_ray(c.address)
        yield c, work, expected
    finally:
        ray.shutdown()
        c.stop()


@pytest.fixture(scope="module")
def uninterrupted(cluster, tiny_options):
    c, work, expected = cluster
    return BatchJob(_config(work / "rec", work / "run1", tiny_options)).run()


def test_rows_identical_to_local_run_encoded_on_worker_nothing_on_its_disk(cluster, uninterrupted, tiny_options):
    import ray

    c, work, expected = cluster
    summary = uninterrupted
    _same_scores(_scores(work / "run1" / "scores.jsonl"), expected)
    assert (work / "run1" / "out.csv").read_text() == (work / "local" / "out.csv").read_text()
    assert summary.n_frames == 27 and summary.encoded == 24 and summary.n_errors == 2
    head = ray.get_runtime_context().get_node_id()  # the driver runs on the head (no CPUs)
    workers = {n["NodeID"] for n in ray.nodes() if n["Alive"]} - {head}
    assert summary.encode_nodes and set(summary.encode_nodes) <= workers
    # the driver alone wrote the cache: a re-run encodes nothing
    again = BatchJob(_config(work / "rec", work / "run1", tiny_options)).run()
    assert again.encoded == 0 and again.cached == 24
    if ISOLATION is not None:
        pytest.skip(f"private worker disk not checked: {ISOLATION}")
    seen_by_worker = Path(f"/proc/{_worker_raylet(str(c.temp_dir))}/root") / str(work).lstrip("/")
    assert not (seen_by_worker / "rec" / "frame_0.png").exists()  # the worker cannot read the driver's disk
    assert list(seen_by_worker.rglob("*")) == []  # and wrote nothing to its own copy of the paths


def test_uri_root_read_by_workers(cluster, tiny_options, tmp_path):
    c, work, expected = cluster
    shared = tmp_path / "shared-mount"  # outside the worker's private paths: every node reads it
    _recording(shared)
    summary = BatchJob(_config(f"file://{shared}", work / "uri", tiny_options)).run()
    assert summary.encoded == 24 and summary.encode_nodes
    rows = list(csv.DictReader(open(work / "uri" / "out.csv", newline="")))
    assert rows[0]["path"] == f"file://{shared}/frame_0.png"
    _same_scores(
        _scores(work / "uri" / "scores.jsonl"),
        expected,
        paths_as=lambda p: p.replace(f"file://{shared}", str(work / "rec")),
    )


def test_encoding_actor_killed_mid_run_output_identical(cluster, uninterrupted, tiny_options):
    c, work, expected = cluster
    killed: list[tuple[int, int]] = []

    def kill_one(done: int) -> None:
        if not killed:
            pids = _encode_actor_pids(str(c.temp_dir))
            assert pids, "no encoding actor process found"
            os.kill(pids[0], signal.SIGKILL)
            killed.append((pids[0], done))

    summary = BatchJob(_config(work / "rec", work / "killed", tiny_options, on_encoded=kill_one)).run()
    assert killed and killed[0][1] < 24  # killed while frames were still being encoded
    assert summary.encoded == 24 and summary.n_frames == 27
    # every row once, same predictions, states and errors; scores up to float rounding
    assert (work / "killed" / "out.csv").read_text() == (work / "run1" / "out.csv").read_text()
    _same_scores(_scores(work / "killed" / "scores.jsonl"), _scores(work / "run1" / "scores.jsonl"))
