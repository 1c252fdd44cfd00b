"""A channel registered from outside the package classifies end to end: the factory builds
it by name with its own options, the feature store caches its features on disk, the
containers hold and validate them, and the decision rule reads its relevance."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image
from toy_channel import TOY, ToyChannel, ToyFeatures, ToyOptions  # tests/embeddings/toy_channel.py

from screenstate import ClassSpec, ScreenClassifier
from screenstate.classifier import FewShot, TwoStage
from screenstate.embeddings.factory import EncoderOptions, create_encoder
from screenstate.embeddings.features import ScreenFeatures


def _screen(rgb: tuple[int, int, int]) -> Image.Image:
    img = Image.new("RGB", (64, 48), rgb)
    img.paste((255, 255, 255), (0, 0, 8, 8))  # a little noise
    return img


SPEC = {
    "classifier_configs": [
        {"name": "stop", "examples_to_include": ["red"]},
        {"name": "go", "examples_to_include": ["green"]},
        {"name": "calm", "examples_to_include": ["blue"]},
    ]
}


def test_a_toy_channel_registered_outside_classifies_end_to_end(tmp_path):
    opts = EncoderOptions(device="cpu", channels={"toy": ToyOptions(side=4)})
    enc = create_encoder("toy", opts)
    (ch,) = enc.channels
    assert isinstance(ch, ToyChannel) and ch.options.side == 4 and enc.get(TOY) is ch
    clf = ScreenClassifier(SPEC, encoder=enc, cache=tmp_path / "cache")
    assert isinstance(clf.rule, TwoStage)
    screens = [_screen((220, 30, 30)), _screen((20, 200, 40)), _screen((30, 40, 230))]
    assert [r.pred for r in clf.classify_batch(screens)] == ["stop", "go", "calm"]
    assert clf.classify(screens[0]).channels == ("toy",)
    # features come back from the disk cache, typed and validated
    again = ScreenClassifier(SPEC, encoder=enc, cache=tmp_path / "cache")
    (feats,) = again.features([again.load(screens[1])])
    assert again.image_encodes == 0
    toy = feats.get(TOY)
    assert isinstance(toy, ToyFeatures) and toy.rgb[1] > 0.5
    back = pickle.loads(pickle.dumps(feats))  # Ray ships features between processes
    assert back.names == ("toy",) and np.array_equal(back.get(TOY).rgb, toy.rgb)
    with pytest.raises(ValueError, match="toy must be a ToyFeatures"):
        ScreenFeatures(toy=np.zeros(3))


def test_a_toy_channel_joins_registered_channels_and_the_fewshot_rule(tmp_path, text_encoder):
    """``toy+visual`` by name, with screenshot exemplars: the few-shot rule calibrates the
    toy channel's exemplar source beside the visual channel's."""
    shots = {}
    for name, rgb in (("stop", (220, 30, 30)), ("go", (20, 200, 40))):
        for k in range(2):
            p = tmp_path / f"{name}{k}.png"
            _screen(tuple(max(0, c - 20 * k) for c in rgb)).save(p)
            shots.setdefault(name, []).append({"image": str(p)})
    spec = ClassSpec.from_dict(
        {"classifier_configs": [{"name": n, "examples_to_include": s} for n, s in shots.items()]}
    )
    clf = ScreenClassifier(spec, encoder=create_encoder("toy+visual", EncoderOptions(device="cpu")))
    assert isinstance(clf.rule, FewShot)
    assert {str(c.source) for c in clf.rule.calibration} == {"toy:exemplars", "visual:exemplars"}
    assert clf.classify(_screen((200, 40, 40))).pred == "stop"
    assert clf.classify(_screen((40, 190, 60))).pred == "go"


def test_options_nest_per_channel_and_cross_processes_as_json():
    """Per-channel options (built-ins by field, others under ``channels``), the flat names of
    earlier versions, and the JSON that carries options to Ray workers."""
    from screenstate.embeddings.clip import ClipOptions
    from screenstate.embeddings.text import TextOptions

    flat = EncoderOptions(clip_model="ViT-B-16", ocr_det_max_side=960, precision="bf16")
    nested = EncoderOptions(
        clip=ClipOptions(model="ViT-B-16"),
        text=TextOptions(ocr=TextOptions().ocr.__class__(det_max_side=960)),
        precision="bf16",
    )
    assert flat == nested and flat.clip_model == "ViT-B-16" and flat.text_options().ocr.precision == "bf16"
    opts = EncoderOptions(channels={"toy": ToyOptions(side=3)})
    back = EncoderOptions.model_validate_json(opts.model_dump_json())
    assert back.options_of(TOY) == ToyOptions(side=3) and back.options_of(TOY).side == 3
    with pytest.raises(ValueError):
        EncoderOptions(clip_modell="typo")
    with pytest.raises(ValueError, match="det_max_side >= 64"):
        EncoderOptions(ocr_det_max_side=10)
    with pytest.raises(ValueError, match="tile_rows in"):
        EncoderOptions(tile_rows=9)
