"""openadapt-flow recordings (``meta.json``, ``events.jsonl``, ``frames/NNNN_before.png`` /
``_after.png``, as openadapt-flow's recorder writes them): frames in order, one action per
event bound to its own before/after frame, and the same --actions output as captures."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from screenstate.recordings import RecordingError, open_recording

EVENTS = [
    {"i": 0, "kind": "click", "x": 123, "y": 45, "t": 1.2},
    {"i": 1, "kind": "type", "text": "alice", "param": "user", "t": 2.5},
    {"i": 2, "kind": "key", "key": "Enter", "t": 3.1},
    {"i": 3, "kind": "drag", "x": 10, "y": 20, "end_x": 60, "end_y": 20, "t": 4.0},
]


@pytest.fixture()
def flow(tmp_path, data_dir) -> Path:
    rec = tmp_path / "flow_rec"
    (rec / "frames").mkdir(parents=True)
    (rec / "meta.json").write_text(json.dumps({"id": "r1", "viewport": [1280, 800], "params": {"user": "alice"}}))
    (rec / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    shots = ["login_page.png", "login_page.png", "login_page.png", "error_dialog.png"]
    shots += ["error_dialog.png", "file_chooser.png", "file_chooser.png", "file_chooser.png"]
    for n, name in enumerate(shots):
        side = "before" if n % 2 == 0 else "after"
        shutil.copy(data_dir / name, rec / "frames" / f"{n // 2:04d}_{side}.png")
    return rec


def test_flow_frames_and_actions(flow):
    src = open_recording(flow)
    assert src.kind == "flow" and src.ordered
    frames = list(src.frames())
    assert [Path(f.key).name for f in frames[:3]] == ["0000_before.png", "0000_after.png", "0001_before.png"]
    assert [f.time_s for f in frames[:4]] == [1.2, 1.2, 2.5, 2.5] and all(f.error is None for f in frames)
    acts = src.actions()
    assert [a.kind for a in acts] == ["click", "typed text", "key", "drag"]
    assert acts[1].text == "alice" and acts[2].keys == ("Enter",) and (acts[3].dx, acts[3].dy) == (50, 0)
    assert Path(acts[0].before_key or "").name == "0000_before.png"
    assert Path(acts[0].after_key or "").name == "0000_after.png"


def test_flow_missing_frame_is_an_error_frame_and_bad_line_an_error(flow):
    (flow / "frames" / "0001_after.png").unlink()
    errs = [f for f in open_recording(flow).frames() if f.error]
    assert len(errs) == 1 and "0001_after.png: missing" in (errs[0].error or "")
    (flow / "events.jsonl").write_text('{"i": 0, "kind": "click"}\nnot json\n')
    with pytest.raises(RecordingError, match="events.jsonl:2: not a JSON line"):
        open_recording(flow)


def test_flow_actions_csv_binds_states_to_frames(flow, tmp_path, tiny_options, data_dir):
    from screenstate.batch.job import BatchJob, JobConfig

    out, actions = tmp_path / "out.csv", tmp_path / "actions.csv"
    cfg = JobConfig(
        root=flow,
        classes=data_dir / "classes_small.json",
        output=out,
        actions=actions,
        cache_dir=tmp_path / "cache",
        encoder="clip",
        options=tiny_options,
        progress=False,
    )
    BatchJob(cfg).run()
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 8 and all(not r["error"] for r in rows)
    state = {Path(r["path"]).name: r["state"] or "unknown" for r in rows}
    acts = list(csv.DictReader(open(actions)))
    assert [a["kind"] for a in acts] == ["click", "typed text", "key", "drag"]
    for n, a in enumerate(acts):
        assert a["before_state"] == state[f"{n:04d}_before.png"]
        assert a["after_state"] == state[f"{n:04d}_after.png"]
        assert a["settled_state"] == state[f"{n:04d}_after.png"]  # the last frame before the next action
