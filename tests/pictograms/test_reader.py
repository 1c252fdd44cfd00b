"""The shipped pictogram encoder through onnxruntime, and pictograms as text-channel lines."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from screenstate.errors import ModelNotAvailableError
from screenstate.pictograms.hook import PREFIX
from screenstate.pictograms.reader import WEIGHTS, Pictogram, PictogramReader


@pytest.fixture(scope="module")
def reader() -> PictogramReader:
    return PictogramReader()


def test_missing_weights_say_where_and_how(tmp_path) -> None:
    with pytest.raises(ModelNotAvailableError, match="pictograms.onnx.*retrain"):
        PictogramReader(tmp_path)


def test_shipped_weights_are_small_and_complete() -> None:
    sizes = {f.name: f.stat().st_size for f in WEIGHTS.iterdir()}
    assert {"pictograms.onnx", "labels.npz", "manifest.json", "metrics.json", "LICENSES.md"} <= set(sizes)
    assert sizes["pictograms.onnx"] + sizes["labels.npz"] <= 10 * 2**20


def test_embeddings_are_unit_vectors_in_sentence_space(reader) -> None:
    crops = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    e = reader.embed(crops)
    assert e.shape == (3, reader.protos.shape[1]) == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-4)


def test_a_blank_screen_has_no_pictograms(reader) -> None:
    assert reader.read(Image.new("RGB", (640, 480), "#d6d6d6"), []) == []


def test_pictograms_become_lines_with_their_box(reader, dialog_screen) -> None:
    found = reader.read(dialog_screen, [])
    for q in found:
        assert isinstance(q, Pictogram) and 0.5 <= q.p_icon <= 1.0
        line = q.line()
        assert line.text == PREFIX + q.name and line.box == tuple(float(v) for v in q.box)
    assert len(found) <= 8
