"""Pins (classifier/pins.py): a pinned screenshot and its near-duplicates get the pin's
state, every other screen keeps the rule's result. Real frames of the bundled recording:
two captures of the plain desktop (near-duplicates), a progress dialog on that desktop."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from screenstate import ScreenClassifier
from screenstate.classifier.pins import PIN_TILES, Pins, changed_tiles, tile_means
from screenstate.errors import SpecError

ROOT = Path(__file__).resolve().parents[2]
REC = ROOT / "examples" / "recording"


def _tiles(img: Image.Image) -> np.ndarray:
    return tile_means(np.asarray(img.convert("RGB")))


def test_near_duplicates_are_the_same_screen_with_a_cursor_not_another_dialog():
    desk = Image.open(REC / "frame_00003.png").convert("RGB")
    cursor = desk.copy()
    ImageDraw.Draw(cursor).polygon([(300, 300), (300, 320), (312, 312)], fill="black")  # an arrow
    dialog = Image.open(REC / "frame_00051.png").convert("RGB")  # a progress dialog on that desktop
    small = desk.copy()
    ImageDraw.Draw(small).rectangle((400, 300, 640, 400), fill=(230, 230, 230))  # a 240x100 window
    pins = Pins((_tiles(desk),), (0,))
    got = pins.match([_tiles(x) for x in (desk, Image.open(REC / "frame_00004.png"), cursor, dialog, small)])
    assert got.tolist() == [0, 0, 0, -1, -1]
    assert changed_tiles(_tiles(desk), _tiles(desk.resize((640, 400)))) > PIN_TILES  # another size: never
    red, green = Image.new("RGB", (64, 48), (220, 30, 30)), Image.new("RGB", (64, 48), (20, 200, 40))
    assert Pins((_tiles(red),), (0,)).match([_tiles(green), _tiles(red)]).tolist() == [-1, 0]  # 4 tiles, all changed


def _class_file(tmp_path: Path, pins: list[dict]) -> Path:
    data = json.loads((ROOT / "configs" / "demo_states.json").read_text())
    for p in pins:
        shutil.copyfile(REC / p["image"], tmp_path / p["image"])
    data["pins"] = pins
    out = tmp_path / "classes.json"
    out.write_text(json.dumps(data))
    return out


def test_pinned_screen_and_its_duplicate_get_the_pin_and_nothing_else_changes(tmp_path):
    frames = sorted(REC.glob("*.png"))
    plain = ScreenClassifier(ROOT / "configs" / "demo_states.json").classify_batch(frames)
    pinned = _class_file(
        tmp_path, [{"image": "frame_00051.png", "state": "progress_dialog"}, {"image": "frame_00003.png"}]
    )
    got = ScreenClassifier(pinned).classify_batch(frames)
    by_name = {f.name: r for f, r in zip(frames, got)}
    assert plain[frames.index(REC / "frame_00051.png")].state != "progress_dialog"  # the rule gets it wrong
    assert (by_name["frame_00051.png"].state, by_name["frame_00051.png"].pinned) == ("progress_dialog", True)
    for name in ("frame_00003.png", "frame_00004.png"):  # none of the above, pred kept
        r = by_name[name]
        assert (r.state, r.pinned, r.pred) == (None, True, plain[frames.index(REC / name)].pred)
    for f, a, b in zip(frames, plain, got):
        if f.name not in ("frame_00051.png", "frame_00003.png", "frame_00004.png"):
            assert (b.state, b.pred, b.pinned, b.raw_scores) == (a.state, a.pred, False, a.raw_scores), f.name


def test_pins_say_what_is_wrong(tmp_path, text_encoder):
    with pytest.raises(SpecError, match=r"pins\[0\]\.state: 'nope' is not a class of this file"):
        ScreenClassifier(_class_file(tmp_path, [{"image": "frame_00051.png", "state": "nope"}]))
    missing = _class_file(tmp_path, [{"image": "frame_00051.png"}])
    (tmp_path / "frame_00051.png").unlink()
    with pytest.raises(SpecError, match=r"pins\[0\]\.image: image file not found"):
        ScreenClassifier(missing)
    with pytest.raises(SpecError, match="pins need the visual channel"):
        ScreenClassifier(_class_file(tmp_path, [{"image": "frame_00051.png"}]), encoder=text_encoder)


def test_the_replay_checker_and_ties_follow_the_pins(tmp_path):
    from screenstate import StateChecker

    a = np.zeros((4, 6, 3), np.uint8)
    assert Pins((a, a.copy()), (1, 2)).match([a]).tolist() == [1]  # the newer of two equal pins
    pinned = _class_file(tmp_path, [{"image": "frame_00051.png", "state": "progress_dialog"}])
    checker = StateChecker(pinned)
    assert checker.which(REC / "frame_00051.png").state == "progress_dialog"
    assert checker.which(REC / "frame_00012.png").state == "error_dialog"
