"""StateChecker: wait_for over scripted frames, none of the above, frame reuse, partial OCR."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from screenstate import StateChecker
from screenstate.errors import StateTimeoutError, UnknownNameError


@pytest.fixture(scope="module")
def exemplar_spec(tmp_path_factory, data_dir):
    d = tmp_path_factory.mktemp("ex")
    for n in ("login_page", "error_dialog", "file_chooser"):
        (d / f"{n}.png").write_bytes((data_dir / f"{n}.png").read_bytes())
    spec = {
        "classifier_configs": [
            {"name": n, "examples_to_include": [{"image": f"{n}.png"}], "min_score": 0.99}
            for n in ("login_page", "error_dialog", "file_chooser")
        ]
    }
    p = d / "classes.json"
    p.write_text(json.dumps(spec))
    return p


@pytest.fixture(scope="module")
def checker(exemplar_spec, tiny_clip_encoder):
    return StateChecker(exemplar_spec, encoder=tiny_clip_encoder)


def _frames(data_dir, names):
    for n in names:
        yield Image.open(data_dir / f"{n}.png")


def test_wait_for_returns_first_matching_frame(checker, data_dir):
    seq = ["login_page", "login_page", "error_dialog", "file_chooser"]
    got = checker.wait_for("error_dialog", _frames(data_dir, seq), timeout=30, interval=0)
    assert got.frames_seen == 3 and got.result.state == "error_dialog"
    assert got.frame.size == Image.open(data_dir / "error_dialog.png").size


def test_wait_for_accepts_callable_and_several_names(checker, data_dir):
    frames = _frames(data_dir, ["login_page", "file_chooser"])
    got = checker.wait_for(["file_chooser", "error_dialog"], grab=lambda: next(frames), timeout=30, interval=0.01)
    assert got.result.state == "file_chooser" and got.frames_seen == 2


def test_wait_for_times_out_naming_last_state(checker, data_dir):
    with pytest.raises(StateTimeoutError, match="for error_dialog; last seen: login_page"):
        checker.wait_for("error_dialog", lambda: Image.open(data_dir / "login_page.png"), timeout=0.3, interval=0.05)


def test_none_of_the_above_below_min_score(checker):
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    res = checker.which(noise)
    assert res.state is None and res.best in checker.names and res.raw_score < 0.99


def test_unchanged_frame_is_reused_and_unknown_names_rejected(checker, data_dir):
    img = Image.open(data_dir / "login_page.png")
    checker.reset()
    first = checker.which(img)
    again = checker.which(img.copy())
    assert first.how == "full" and again.how == "reused" and again.raw_scores == first.raw_scores
    assert checker.is_state(img, "login_page")
    with pytest.raises(UnknownNameError, match="login_page, error_dialog, file_chooser"):
        checker.is_state(img, "nope")


def test_partial_ocr_reads_only_changed_tiles(text_encoder, small_spec, data_dir):
    checker = StateChecker(small_spec, encoder=text_encoder)
    base = Image.open(data_dir / "login_page.png").convert("RGB")
    full = checker.which(base)
    changed = base.copy()
    ImageDraw.Draw(changed).text((40, 700), "Backup failed", fill=(0, 0, 0))
    part = checker.which(changed)
    assert full.how == "full" and part.how == "partial"
    # the same answer a full re-read gives
    fresh = StateChecker(small_spec, encoder=text_encoder).which(changed)
    assert part.best == fresh.best
    assert part.raw_scores == pytest.approx(fresh.raw_scores, abs=0.02)
    lines = checker._gate.anchor_features.text.lines
    assert any("Backup" in ln.text for ln in lines) and any("Password" in ln.text for ln in lines)


def test_near_tie_after_a_partial_read_is_confirmed_by_a_full_read(text_encoder, small_spec, data_dir):
    base = Image.open(data_dir / "login_page.png").convert("RGB")
    changed = base.copy()
    ImageDraw.Draw(changed).text((40, 700), "Backup failed", fill=(0, 0, 0))
    checker = StateChecker(small_spec, encoder=text_encoder)
    checker.which(base)
    clear = checker.which(changed)
    assert clear.how == "partial"  # a clear decision keeps the cheap path
    # any margin below the threshold counts as a tie: the frame is read in full
    checker = StateChecker(small_spec, encoder=text_encoder, confirm_margin=1.0)
    checker.which(base)
    tie = checker.which(changed)
    fresh = StateChecker(small_spec, encoder=text_encoder).which(changed)
    assert tie.how == "full" and tie.raw_scores == pytest.approx(fresh.raw_scores, abs=1e-6)


def test_find_text_on_screen(text_encoder, small_spec, data_dir):
    checker = StateChecker(small_spec, encoder=text_encoder)
    hits = checker.find(data_dir / "login_page.png", "Sign In")
    assert hits and "sign in" in hits[0][1].lower()
    x0, y0, x1, y1 = hits[0][0]
    assert 0 <= x0 < x1 <= 1366 and 0 <= y0 < y1 <= 768


def test_example_replay_strategy(checker, data_dir):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "replay_strategy.py"
    spec = importlib.util.spec_from_file_location("replay_strategy", path)
    mod = importlib.util.module_from_spec(spec)
    import sys

    sys.modules["replay_strategy"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    frames = _frames(data_dir, ["login_page", "error_dialog", "error_dialog", "file_chooser"])
    acted = []
    steps = [
        mod.Step("log in", before="login_page", action=lambda: acted.append("login"), after="error_dialog"),
        mod.Step("open file", before="file_chooser", action=lambda: acted.append("open")),
    ]
    strategy = mod.ReplayStrategy(checker, lambda: next(frames), timeout=30, interval=0)
    assert strategy.run(steps) and acted == ["login", "open"]
    failing = mod.ReplayStrategy(checker, lambda: Image.open(data_dir / "login_page.png"), timeout=0.2, interval=0.05)
    assert not failing.run([mod.Step("x", before="file_chooser", action=lambda: None)])
    assert "precondition failed" in failing.log[-1] and "last seen: login_page" in failing.log[-1]


def test_reused_buffer_is_not_mistaken_for_an_unchanged_frame(checker, data_dir):
    """Screen grabbers often refill one buffer: the checker must keep its own copy."""
    buf = np.asarray(Image.open(data_dir / "login_page.png").convert("RGB")).copy()
    checker.reset()
    first = checker.which(buf)
    buf[:] = np.asarray(Image.open(data_dir / "file_chooser.png").convert("RGB").resize((buf.shape[1], buf.shape[0])))
    second = checker.which(buf)
    assert second.how != "reused" and second.raw_scores != first.raw_scores


def test_going_back_to_a_screen_read_before_comes_from_the_store(text_encoder, small_spec, data_dir):
    """A -> B -> A: the third check is the first one's full read (OCR), from the feature store."""
    login, chooser = (Image.open(data_dir / f"{n}.png").convert("RGB") for n in ("login_page", "file_chooser"))
    checker = StateChecker(small_spec, encoder=text_encoder)
    first = checker.which(login)
    assert checker.which(chooser).how == "full"
    back = checker.which(login)
    assert first.how == "full" and back.how == "cached" and back.raw_scores == first.raw_scores
    checker.reset()  # forgets the screens read before too
    assert checker.which(login).how == "full"


def test_partial_reads_are_not_looked_up_by_hash(text_encoder, small_spec, data_dir):
    """A partial read is cheaper than hashing a whole screen: the store is asked only
    before full reads (the gate is told so)."""
    checker = StateChecker(small_spec, encoder=text_encoder)
    base = Image.open(data_dir / "login_page.png").convert("RGB")
    checker.which(base)
    changed = base.copy()
    ImageDraw.Draw(changed).text((40, 700), "Backup failed", fill=(0, 0, 0))
    asked = []
    real = checker.classifier.store.cached
    checker.classifier.store.cached = lambda h: asked.append(h) or real(h)  # type: ignore[method-assign]
    assert checker.which(changed).how == "partial" and asked == []
