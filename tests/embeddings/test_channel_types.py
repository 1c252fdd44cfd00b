"""Typed channel features and examples: validated on creation (errors say expected vs
actual), one typed container per screen, channels reached through typed accessors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from screenstate.embeddings.clip_features import ClipExamples, ClipFeatures
from screenstate.embeddings.features import ScreenExamples, ScreenFeatures
from screenstate.embeddings.ocr import TextLine
from screenstate.embeddings.text import TextFeatures
from screenstate.embeddings.visual import VisualExamples, VisualFeatures

LINE = TextLine((0.0, 0.0, 10.0, 10.0), "OK", 0.9)


def _text(n_lines: int = 1, line_rows: int | None = None, dim: int = 4) -> TextFeatures:
    rows = n_lines if line_rows is None else line_rows
    z = np.zeros
    return TextFeatures(
        (LINE,) * n_lines, z((rows, dim), np.float32), z(dim, np.float32), ("ok",), z((1, dim), np.float32)
    )


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: ClipFeatures(torch.zeros(32)), r"ClipFeatures.views: expected shape \(\*, \*\), got \(32,\)"),
        (lambda: ClipFeatures(torch.zeros(0, 32)), "expected at least one view"),
        (
            lambda: ClipExamples(torch.tensor([True, False]), torch.zeros(2, 8), torch.zeros(1, 8)),
            r"ClipExamples.text: expected 1 rows \(one per text column\), got 2",
        ),
        (
            lambda: ClipExamples(torch.tensor([True, False]), torch.zeros(1, 8), None),
            r"ClipExamples.image: expected 1 rows \(one per image column\), got None",
        ),
        (lambda: _text(2, line_rows=1), r"TextFeatures.line_emb: expected shape \(2, 4\), got \(1, 4\)"),
        (
            lambda: VisualFeatures(np.zeros((2, 3), np.float32), (0, 0, 1, 1), (1, 1), np.zeros((1, 1, 3), np.uint8)),
            r"VisualFeatures.vector: expected shape \(\*,\), got \(2, 3\)",
        ),
        (
            lambda: VisualExamples(np.array([True, True, False]), np.zeros((1, 5), np.float32)),
            r"VisualExamples.vectors: expected shape \(2, \*\), got \(1, 5\)",
        ),
        (lambda: ScreenFeatures.from_channels({"owl": 1}), r"unknown channel 'owl'"),
    ],
)
def test_invalid_features_say_expected_and_actual(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_screen_features_merge_and_pickle():
    clip = ClipFeatures(torch.ones(1, 8))
    a = ScreenFeatures(text=_text())
    b = a.merged(ScreenFeatures(clip=clip))
    assert b.names == ("clip", "text") and b.text is a.text and b.clip is clip
    assert a.names == ("text",)  # frozen: merging makes a new one
    back = pickle.loads(pickle.dumps(b))  # Ray ships features between workers and the driver
    assert back.names == b.names and torch.equal(back.clip.views, clip.views)
    with pytest.raises(ValueError, match="unknown channel 'owl'"):
        b.get("owl")


def test_encoder_accessors_return_typed_channels(text_encoder, tiny_clip_encoder):
    from screenstate.embeddings.clip import ClipChannel
    from screenstate.embeddings.text import TextChannel

    assert isinstance(text_encoder.text, TextChannel) and text_encoder.clip is None and text_encoder.visual is None
    assert isinstance(tiny_clip_encoder.clip, ClipChannel) and tiny_clip_encoder.text is None


def test_encoder_says_which_channel_features_lack(tiny_clip_encoder):
    from screenstate.schema import Column

    ex = tiny_clip_encoder.encode_examples([Column(0, False, "a login page", None, "p")], augment=False)
    assert isinstance(ex, ScreenExamples) and ex.clip is not None and ex.text is None
    with pytest.raises(ValueError, match=r"no 'clip' feature \(they hold \['text'\]\)"):
        tiny_clip_encoder.channel_relevance([ScreenFeatures(text=_text())], ex)


def test_prepared_inputs_are_one_typed_container_that_crosses_processes(tiny_clip_encoder):
    """What Ray tasks hand to the encoder: a ScreenPrepared per screen, the same from the
    encoder and from its picklable Preparer, and encoded to the same features."""
    from PIL import Image

    from screenstate.embeddings.encoder import Encoder
    from screenstate.embeddings.features import ScreenPrepared
    from screenstate.embeddings.visual import VisualChannel

    enc = Encoder("clip+visual", [tiny_clip_encoder.clip, VisualChannel()])
    img = Image.new("RGB", (64, 48), (30, 60, 90))
    here = enc.prepare(img)
    assert isinstance(here, ScreenPrepared) and here.names == ("clip", "visual")
    assert here.clip.dtype == np.uint8 and here.clip.shape[-1] == 3 and here.visual.size == (64, 48)
    there = pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(enc.preparer()))(img)))  # a Ray task's result
    assert isinstance(there, ScreenPrepared) and there.names == here.names
    assert np.array_equal(there.clip, here.clip)
    a, b = enc.encode([here, there])
    assert torch.equal(a.clip.views, b.clip.views) and a.visual is not None
    with pytest.raises(ValueError, match=r"prepared screen has no 'visual' input \(it holds \['clip'\]\)"):
        enc.encode([ScreenPrepared(clip=here.clip)])
