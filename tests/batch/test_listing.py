"""classify_directory as an unlucky user meets it: odd file names, odd directory entries,
files that change under the job, a damaged cache. Every entry is a row or a named skip."""

from __future__ import annotations

import io
import json
import os
import socket

import pytest
from PIL import Image
from test_job import _config as _job_config  # same job settings as the main batch tests
from test_job import _rows

from screenstate.batch import frame_hashes as batch_hashing
from screenstate.batch.job import BatchJob
from screenstate.batch.prepare import prepare_batch
from screenstate.hashing import bytes_hash
from screenstate.recordings.folder import scan_root
from screenstate.recordings.listing import printable

CLASSES = {
    "classifier_configs": [
        {"name": "red", "examples_to_include": ["a red screen"]},
        {"name": "green", "examples_to_include": ["a green screen"]},
    ]
}


def _png(color, size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def _config(root, tmp_path, tiny_options, **kw):
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps(CLASSES))
    return _job_config(root, classes, tmp_path, tiny_options, **kw)


def test_non_utf8_file_name_is_classified_and_written_with_backslash_escapes(tmp_path, tiny_options, ray_session):
    root = tmp_path / "rec"
    root.mkdir()
    (root / "frame_1.png").write_bytes(_png((255, 0, 0)))
    odd = os.path.join(os.fsencode(root), b"caf\xe9_frame.png")  # latin-1 name from an old Windows share
    with open(odd, "wb") as f:
        f.write(_png((0, 255, 0)))
    cfg = _config(root, tmp_path, tiny_options, scores_file=tmp_path / "s.jsonl", report=tmp_path / "r.html")
    summary = BatchJob(cfg).run()
    rows = _rows(tmp_path / "out.csv")
    assert [r["path"].rsplit("/", 1)[1] for r in rows] == ["caf\\xe9_frame.png", "frame_1.png"]
    assert all(r["pred"] and not r["error"] for r in rows) and summary.n_errors == 0
    scores = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text(encoding="utf-8").splitlines()]
    assert scores[0]["path"].endswith("caf\\xe9_frame.png") and scores[0]["scores"]
    assert "caf\\xe9_frame.png" in (tmp_path / "r.html").read_text(encoding="utf-8")
    # the escape maps back to the bytes on disk
    assert (
        os.fsencode(
            rows[0]["path"].encode().decode("unicode_escape").encode("latin-1").decode("utf-8", "surrogateescape")
        )
        == odd
    )
    # a rerun (all from cache) writes the same
    assert BatchJob(cfg).run().encoded == 0 and _rows(tmp_path / "out.csv") == rows
    # a parquet scores file takes the name too
    BatchJob(_config(root, tmp_path, tiny_options, scores_file=tmp_path / "s.parquet")).run()


def test_printable_is_identity_for_valid_names():
    assert printable("écran_1.png") == "écran_1.png"
    assert printable(os.fsdecode(b"caf\xe9.png")) == "caf\\xe9.png"


@pytest.fixture()
def mixed_bad_dir(tmp_path):
    """A flat recording with every kind of entry the audit found dropped."""
    root = tmp_path / "rec"
    root.mkdir()
    (root / "frame_1.png").write_bytes(_png((255, 0, 0)))
    (root / "frame_2.png").symlink_to(root / "gone.png")  # broken link
    (root / "frame_3.png").symlink_to(root / "frame_3.png")  # link loop
    os.mkfifo(root / "frame_4.png")  # reading it naively blocks forever
    sock = socket.socket(socket.AF_UNIX)
    short = tmp_path / "s"  # AF_UNIX paths are short
    sock.bind(str(short))
    os.rename(short, root / "frame_5.png")
    (root / "frame_6.png").write_bytes(_png((0, 255, 0)))
    (root / "nested").mkdir()
    (root / "nested" / "frame_7.png").write_bytes(_png((0, 255, 0)))
    (root / ".frame_8.png").write_bytes(_png((0, 255, 0)))  # hidden image
    (root / "labels.csv").write_text("frame,state\n")  # side file: not a frame
    yield root
    sock.close()


def test_every_entry_is_a_row_or_a_named_skip(mixed_bad_dir, tmp_path, tiny_options, ray_session, caplog):
    summary = BatchJob(_config(mixed_bad_dir, tmp_path, tiny_options)).run()
    rows = {r["path"].rsplit("/", 1)[1]: r for r in _rows(tmp_path / "out.csv")}
    assert list(rows) == [f"frame_{i}.png" for i in range(1, 7)]
    assert rows["frame_1.png"]["pred"] and rows["frame_6.png"]["pred"]
    assert "broken symbolic link" in rows["frame_2.png"]["error"]
    assert "symbolic link loop" in rows["frame_3.png"]["error"]
    assert "named pipe (FIFO), not a regular file" in rows["frame_4.png"]["error"]
    assert "socket, not a regular file" in rows["frame_5.png"]["error"]
    assert summary.n_errors == 4 and summary.n_frames == 6
    text = summary.describe()
    assert "nested: directory with 1 image file(s) inside a flat recording" in text
    assert ".frame_8.png: hidden file" in text
    assert len(summary.skipped) == 2
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "nested" in warned and ".frame_8.png" in warned


def test_labeled_layout_follows_directory_links_once_and_lists_bad_entries(tmp_path):
    root = tmp_path / "rec"
    (root / "red" / "deeper").mkdir(parents=True)
    (root / "green").mkdir()
    (root / "red" / "a.png").write_bytes(_png((255, 0, 0)))
    (root / "red" / "deeper" / "b.png").write_bytes(_png((255, 0, 0)))
    (root / "red" / "broken.png").symlink_to(root / "nowhere.png")
    (root / "red" / "deeper" / "up").symlink_to(root / "red")  # a cycle
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "c.png").write_bytes(_png((0, 255, 0)))
    (root / "green" / "linked").symlink_to(elsewhere)  # a linked directory is read
    listing = scan_root(root)
    got = {(f.path.relative_to(root).as_posix(), f.label, f.error is not None) for f in listing.frames}
    assert got == {
        ("red/a.png", "red", False),
        ("red/broken.png", "red", True),
        ("red/deeper/b.png", "red", False),
        ("green/linked/c.png", "green", False),
    }
    assert [s.path.name for s in listing.skipped] == ["up"] and "cycle" in listing.skipped[0].reason


def test_file_changed_after_hashing_is_never_cached_under_the_old_hash(
    tmp_path, tiny_options, ray_session, monkeypatch
):
    root = tmp_path / "rec"
    root.mkdir()
    frame = root / "frame_1.png"
    frame.write_bytes(_png((255, 0, 0)))
    (root / "frame_2.png").write_bytes(_png((0, 0, 255)))
    login_page = _png((0, 255, 0))
    original = batch_hashing.hash_file

    def hash_then_change(f, root):  # the recorder overwrites the frame right after the job hashed it
        got = original(f, root)
        if f.path == frame:
            frame.write_bytes(login_page)
        return got

    monkeypatch.setattr(batch_hashing, "hash_file", hash_then_change)
    cfg = _config(root, tmp_path, tiny_options)
    first = BatchJob(cfg).run()
    row = next(r for r in first.rows if r.path == str(frame))
    assert row.result is None and "file changed while the job was reading it" in row.error
    monkeypatch.setattr(batch_hashing, "hash_file", original)
    # the old hash has no features: a later frame with the old content (a login form seen
    # again) is encoded, not answered with the pixels that replaced it
    assert BatchJob(cfg).classifier.store.cached(bytes_hash(_png((255, 0, 0)))) is None
    later = tmp_path / "later"
    later.mkdir()
    (later / "frame_1.png").write_bytes(_png((255, 0, 0)))
    reused = BatchJob(_config(later, tmp_path, tiny_options)).run()
    (tmp_path / "other").mkdir()
    fresh = BatchJob(_config(later, tmp_path / "other", tiny_options)).run()
    assert reused.encoded == 1
    assert reused.rows[0].result.raw_scores == pytest.approx(fresh.rows[0].result.raw_scores, abs=1e-4)


def test_prepare_decodes_exactly_the_hashed_bytes(tmp_path):
    from screenstate.batch.sources import Root, fetch_batch, wire_path

    p = tmp_path / "f.png"
    p.write_bytes(_png((0, 255, 0)))
    root = Root.of(tmp_path)
    batch = {"hash": [bytes_hash(_png((255, 0, 0)))], "path": [wire_path(str(p))]}
    out = prepare_batch(fetch_batch(batch, root), preparer=lambda img: img.size, max_pixels=10**7)
    assert out["prepared"] == [b""] and "file changed" in out["error"][0]
    batch["hash"] = [bytes_hash(p.read_bytes())]
    out = prepare_batch(fetch_batch(batch, root), preparer=lambda img: img.size, max_pixels=10**7)
    assert out["error"] == [""]


def test_damaged_cache_entries_are_reencoded_not_a_crash(tmp_path, tiny_options, ray_session):
    root = tmp_path / "rec"
    root.mkdir()
    for i, c in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        (root / f"frame_{i}.png").write_bytes(_png(c))
    cfg = _config(root, tmp_path, tiny_options)
    want = _rows(tmp_path / "out.csv") if BatchJob(cfg).run() else None
    entries = sorted((tmp_path / "cache").rglob("*.bin"))
    assert entries
    entries[0].write_bytes(b"")  # zero-length
    for e in entries[1:]:
        e.write_bytes(e.read_bytes()[:20])  # truncated (BadZipFile before)
    again = BatchJob(cfg).run()
    assert again.n_errors == 0 and again.encoded == 3
    assert _rows(tmp_path / "out.csv") == want
    assert BatchJob(cfg).run().encoded == 0  # healed
