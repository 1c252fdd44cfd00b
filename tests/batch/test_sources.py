"""URI roots and actor-pool sizing, without a cluster."""

from __future__ import annotations

import pytest

from screenstate.batch import encode
from screenstate.batch.encode import plan_pool
from screenstate.batch.sources import Root, fetch_batch, hash_frame, unwire_path
from screenstate.embeddings.factory import EncoderOptions
from screenstate.errors import ScreenstateError
from screenstate.recordings.folder import discover_frames
from screenstate.recordings.uri import discover_uri_frames, is_uri


def test_file_uri_lists_like_a_local_root_and_names_frames_by_uri(tmp_path):
    for label in ("b_state", "a_state"):
        (tmp_path / label / "sub").mkdir(parents=True)
        (tmp_path / label / "frame_10.png").write_bytes(b"x")
        (tmp_path / label / "frame_2.png").write_bytes(b"y")
        (tmp_path / label / "sub" / "deep.png").write_bytes(b"z")
        (tmp_path / label / "labels.csv").write_text("side file")
    root = Root.of(f"file://{tmp_path}")
    frames, layout = discover_uri_frames(root)
    local, local_layout = discover_frames(tmp_path)
    assert layout == local_layout == "labeled"
    assert [(str(f.path), f.label) for f in frames] == [(str(f.path), f.label) for f in local]
    assert root.display(frames[0].path) == f"file://{tmp_path}/a_state/frame_2.png"
    assert hash_frame(root, str(frames[0].path))[0] == hash_frame(Root.of(tmp_path), str(local[0].path))[0]


def test_unreadable_empty_and_changed_frames_are_named_errors(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "ok.png").write_bytes(b"data")
    root = Root.of(f"file://{tmp_path}")
    assert "empty file" in hash_frame(root, f"{tmp_path}/empty.png")[1]
    assert "cannot read" in hash_frame(root, f"{tmp_path}/missing.png")[1]
    h, _ = hash_frame(root, f"{tmp_path}/ok.png")
    (tmp_path / "ok.png").write_bytes(b"edited after hashing")
    out = fetch_batch({"hash": [h], "path": [f"{tmp_path}/ok.png"]}, root)
    assert out["data"] == [b""] and "file changed while the job was reading it" in out["error"][0]
    assert [unwire_path(p) for p in out["path"]] == [f"file://{tmp_path}/ok.png"]


def test_is_uri():
    assert is_uri("s3://bucket/rec") and is_uri("file:///tmp/x") and not is_uri("/tmp/x") and not is_uri("rec")
    with pytest.raises(ScreenstateError, match="cannot open this filesystem"):
        Root.of("nosuchscheme://x/y")


@pytest.mark.parametrize(
    ("nodes", "device", "per", "want"),
    [
        ([{"CPU": 0}, {"CPU": 8}, {"CPU": 8}, {"CPU": 2}], "cpu", 4, (4, 4, 0)),  # head without CPUs
        ([{"CPU": 0}, {"CPU": 1}, {"CPU": 1}], "auto", 4, (2, 1, 0)),  # clamped to the largest node
        ([{"CPU": 0}, {"CPU": 16, "GPU": 2}, {"CPU": 16, "GPU": 1}], "auto", 4, (3, 1, 1)),  # one per GPU
        ([{"CPU": 0}, {"CPU": 16, "GPU": 2}], "cpu", 8, (2, 8, 0)),  # --device cpu ignores GPUs
    ],
)
def test_pool_sized_from_the_cluster(monkeypatch, nodes, device, per, want):
    monkeypatch.setattr(encode, "alive_nodes", lambda: [{"Resources": r} for r in nodes])
    plan = plan_pool(EncoderOptions(device=device), per)
    assert (plan.max_actors, plan.num_cpus, plan.num_gpus) == want


def test_pool_refuses_a_cluster_it_cannot_encode_on(monkeypatch):
    monkeypatch.setattr(encode, "alive_nodes", lambda: [{"Resources": {"CPU": 0}}])
    with pytest.raises(ScreenstateError, match="no CPUs and no GPUs"):
        plan_pool(EncoderOptions(device="cpu"), 4)
    with pytest.raises(ScreenstateError, match="has no GPUs"):
        plan_pool(EncoderOptions(device="cuda"), 4)
