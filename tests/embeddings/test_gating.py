"""Change gating: what counts as a change, and what work each kind of change costs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from screenstate.embeddings.gating import ChangeGate, GateOptions


def _screen(seed=0, size=(640, 384)):
    rng = np.random.default_rng(seed)
    arr = np.full((size[1], size[0], 3), 235, np.uint8)
    for _ in range(12):  # some windows
        x, y = rng.integers(0, size[0] - 100), rng.integers(0, size[1] - 60)
        arr[y : y + 60, x : x + 100] = rng.integers(0, 255, 3)
    return Image.fromarray(arr)


def _noisy(img, amplitude, seed=1):
    arr = np.asarray(img).astype(np.int16)
    noise = np.random.default_rng(seed).integers(-amplitude, amplitude + 1, arr.shape)
    return Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8))


def _cursor(img, x, y):
    im = img.copy()
    ImageDraw.Draw(im).polygon([(x, y), (x, y + 18), (x + 12, y + 14)], fill=(0, 0, 0))
    return im


@pytest.mark.parametrize(
    "change, options, expected",
    [
        (lambda im: im.copy(), GateOptions.exact(), "reused"),
        (lambda im: _noisy(im, 6), GateOptions.for_video(), "reused"),  # codec re-quantisation
        (lambda im: _noisy(im, 6), GateOptions.exact(), "full"),  # lossless input: any pixel counts
        (lambda im: _cursor(im, 300, 200), GateOptions.for_video(), "reused"),  # a cursor
        (lambda im: _cursor(im, 300, 200), GateOptions.exact(), "full"),  # no text channel: full read
        (lambda im: _screen(seed=7), GateOptions.for_video(), "full"),  # a new screen
    ],
)
def test_what_each_change_costs(tiny_clip_encoder, change, options, expected):
    gate = ChangeGate(tiny_clip_encoder, options)
    base = _screen()
    assert gate.step(base).how == "full"
    assert gate.step(change(base)).how == expected


def test_slow_changes_add_up_against_the_anchor(tiny_clip_encoder):
    """Comparing with the last frame read (not the previous frame): a change arriving a
    little per frame is read once it is big enough."""
    gate = ChangeGate(tiny_clip_encoder, GateOptions.for_video())
    img = _screen()
    gate.step(img)
    hows = []
    for k in range(8):  # a panel drawn one 2-tile strip per frame
        img = img.copy()
        ImageDraw.Draw(img).rectangle((96, 96 + 32 * k, 159, 127 + 32 * k), fill=(20, 20, 160))
        hows.append(gate.step(img).how)
    assert hows[0] == "reused" and "full" in hows


def test_partial_text_reread_keeps_lines_elsewhere(text_encoder, data_dir):
    gate = ChangeGate(text_encoder, GateOptions.for_video())
    base = Image.open(data_dir / "login_page.png").convert("RGB")
    first = gate.step(base)
    changed = base.copy()
    draw = ImageDraw.Draw(changed)
    draw.rectangle((30, 680, 430, 740), fill=(255, 255, 255), outline=(0, 0, 0))
    draw.text((40, 695), "Backup failed", fill=(0, 0, 0), font=ImageFont.load_default(size=28))
    step = gate.step(changed)
    assert first.how == "full" and step.how == "partial"
    texts = [ln.text for ln in step.features.text.lines]
    assert any("Backup" in t for t in texts) and len(texts) >= len(first.features.text.lines)


def test_options_are_validated():
    with pytest.raises(ValueError, match="scale must divide"):
        GateOptions(scale=3)
    with pytest.raises(ValueError, match="noise"):
        GateOptions(noise=300)
