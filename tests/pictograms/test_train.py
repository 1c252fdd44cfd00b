"""The training code on a tiny bank: it learns, holds sets out, exports an ONNX model that
onnxruntime runs to the same embeddings, and is reproducible from its seed."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from screenstate.pictograms import train as T

SHAPES = {
    "warning triangle": lambda d: d.polygon([(24, 4), (44, 44), (4, 44)], fill=(0, 0, 0, 255)),
    "circle help": lambda d: d.ellipse((4, 4, 44, 44), outline=(0, 0, 0, 255), width=5),
    "lock": lambda d: d.rectangle((8, 22, 40, 44), fill=(0, 0, 0, 255)),
}


def fake_embed(sentences: list[str]) -> torch.Tensor:
    """Deterministic unit vectors per sentence (no sentence model needed)."""
    rows = []
    for s in sentences:
        g = torch.Generator().manual_seed(int(hashlib.sha256(s.encode()).hexdigest()[:8], 16))
        rows.append(torch.randn(16, generator=g))
    return torch.nn.functional.normalize(torch.stack(rows), dim=1)


def tiny_bank() -> tuple[torch.Tensor, list[str], list[tuple[str, ...]]]:
    images, sources, names = [], [], []
    for src, width in (("set-a", 0), ("set-b", 2), ("held", 4)):
        for name, draw in SHAPES.items():
            img = Image.new("RGBA", (48, 48), (0, 0, 0, 0))
            draw(ImageDraw.Draw(img))
            if width:
                ImageDraw.Draw(img).rectangle((0, 0, 47, width), fill=(0, 0, 0, 0))
            images.append(np.asarray(img))
            sources.append(src)
            names.append((name if src != "held" else " ".join(reversed(name.split())),))  # held-out names are new
    return torch.from_numpy(np.stack(images)), sources, names


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    bank, sources, names = tiny_bank()
    return T.train(bank, sources, names, steps=40, batch=32, holdout=("held",), embed_fn=fake_embed, log_every=0)


def test_learns_and_reports_held_out_sets(trained) -> None:
    net, metrics, labels, lab_emb, none = trained
    assert labels == sorted(SHAPES)  # only training sets' names are targets
    held = metrics["holdout_sets"]["held"]
    assert held["icons"] == 3 and held["names"] == 3
    assert metrics["train"]["final_loss"] < 0.7 * metrics["train"]["first_loss"]
    assert 0.0 <= held["retrieval_r1"] <= held["retrieval_r5"] <= 1.0
    assert "warning" in held["concept_accuracy"]


def test_export_runs_in_onnxruntime(trained, tmp_path) -> None:
    ort = pytest.importorskip("onnxruntime")
    net, _, labels, lab_emb, none = trained
    T.export(net, labels, lab_emb, none, tmp_path)
    x = torch.rand(5, 3, 32, 32)
    with torch.no_grad():
        want = net(x).numpy()
    got = ort.InferenceSession(str(tmp_path / "pictograms.onnx")).run(None, {"crops": x.numpy()})[0]
    np.testing.assert_allclose(got, want, atol=1e-4)
    z = np.load(tmp_path / "labels.npz")
    assert z["labels"].tolist() == labels and z["embeddings"].shape == (3, 16)


def test_same_seed_same_weights() -> None:
    bank, sources, names = tiny_bank()
    runs = [T.train(bank, sources, names, steps=3, batch=8, holdout=("held",), embed_fn=fake_embed, log_every=0) for _ in range(2)]
    a, b = (r[0].state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
