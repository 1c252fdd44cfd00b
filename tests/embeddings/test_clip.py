from __future__ import annotations

import time

import pytest
import torch
from PIL import Image

from screenstate.embeddings.clip import ClipChannel, ClipOptions, clip_available, image_relevance
from screenstate.embeddings.templates import get_templates, photo_templates
from screenstate.errors import ModelNotAvailableError, UnknownNameError
from screenstate.schema import Column


def test_tiny_model_shapes_and_determinism(tiny_clip_encoder):
    ch = tiny_clip_encoder.channels[0]
    img = Image.new("RGB", (320, 200), (200, 10, 10))
    f = [x.views for x in ch.encode_images([img, img])]
    assert f[0].shape == (1, 32)
    torch.testing.assert_close(f[0], f[1])
    torch.testing.assert_close(f[0].norm(dim=-1), torch.ones(1))
    other = ClipChannel(ch.options)  # a second process builds the same random model
    torch.testing.assert_close(other.encode_images([img])[0].views, f[0])


def test_text_relevance_is_reference_formula(tiny_clip_encoder):
    ch = tiny_clip_encoder.channels[0]
    img = Image.new("RGB", (128, 96), (0, 0, 255))
    cols = [Column(0, False, "a login page", None, "p"), Column(1, False, "an error", None, "q")]
    ex = ch.encode_examples(cols, augment=False)
    feats = ch.encode_images([img])
    rel = ch.relevance(feats, ex)
    expected = (1 + feats[0].views[0] @ ch.encode_texts(["a login page", "an error"], augment=False).T) / 2
    torch.testing.assert_close(rel[0], expected)


def test_prompt_ensembling_averages_template_embeddings(tiny_clip_encoder):
    ch = tiny_clip_encoder.channels[0]
    got = ch.encode_texts(["dialog"], augment=True)
    each = torch.nn.functional.normalize(
        ch._model.encode_text(ch._tokenizer([t.format("dialog") for t in ch.templates])).float(), dim=-1
    )
    torch.testing.assert_close(got[0], torch.nn.functional.normalize(each.mean(0), dim=0), atol=1e-5, rtol=1e-5)


def test_tiles_pool_global_and_best_tile(tiny_options):
    ch = ClipChannel(
        ClipOptions(model=tiny_options.clip_model, pretrained="random", device="cpu", precision="fp32", views="tiles")
    )
    img = Image.new("RGB", (400, 200), (0, 128, 0))
    f = ch.encode_images([img])
    assert f[0].views.shape[0] == 1 + 4 * 2
    ex = ch.encode_examples([Column(0, False, "x", None, "p")], augment=False)
    rel = ch.relevance(f, ex)
    per_view = (1 + f[0].views @ ex.text[0]) / 2
    torch.testing.assert_close(rel[0, 0], 0.5 * per_view[0] + 0.5 * per_view[1:].max())


def test_bf16_close_to_fp32(tiny_options):
    a = ClipChannel(ClipOptions(model=tiny_options.clip_model, pretrained="random", device="cpu", precision="fp32"))
    b = ClipChannel(ClipOptions(model=tiny_options.clip_model, pretrained="random", device="cpu", precision="bf16"))
    img = Image.new("RGB", (120, 80), (90, 20, 200))
    assert b.dtype == torch.bfloat16
    cos = float(a.encode_images([img])[0].views[0] @ b.encode_images([img])[0].views[0])
    assert cos > 0.97


def test_missing_weights_fail_fast_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t = time.perf_counter()
    with pytest.raises(ModelNotAvailableError, match="screenstate models pull"):
        ClipChannel(ClipOptions(model="ViT-B-32", pretrained="laion2b_s34b_b79k", device="cpu"))
    assert time.perf_counter() - t < 10
    assert not clip_available("ViT-B-32", "laion2b_s34b_b79k")


def test_missing_weights_fail_fast_without_network(monkeypatch):
    """No HF_HUB_OFFLINE, but the hub does not answer: one short connection attempt, then the error."""
    import socket

    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # huggingface_hub reads its variable at import
    calls = []

    def refuse(*a, **k):
        calls.append(a)
        raise OSError("network unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(ModelNotAvailableError, match="unreachable"):
        ClipChannel(ClipOptions(model="ViT-B-32", pretrained="laion2b_s34b_b79k", device="cpu"))
    assert len(calls) == 1


def test_local_checkpoint_path_is_loaded(tmp_path, tiny_clip_encoder, tiny_options):
    ch = tiny_clip_encoder.channels[0]
    ckpt = tmp_path / "tiny.pt"
    torch.save(ch._model.float().state_dict(), ckpt)
    loaded = ClipChannel(
        ClipOptions(model=tiny_options.clip_model, pretrained=str(ckpt), device="cpu", precision="fp32")
    )
    img = Image.new("RGB", (64, 64), (1, 2, 3))
    torch.testing.assert_close(loaded.encode_images([img])[0].views, ch.encode_images([img])[0].views)


def test_unknown_names():
    with pytest.raises(UnknownNameError, match="ViT-B-32"):
        ClipChannel(ClipOptions(model="ViT-Nope", pretrained="random"))
    with pytest.raises(UnknownNameError, match="screen, photo, none"):
        get_templates("fancy")
    assert len(photo_templates()) == 80


def test_image_relevance_calibration():
    torch.testing.assert_close(image_relevance(torch.tensor([1.0, 0.5, 0.0])), torch.tensor([1.0, 0.5, 0.0]))


def test_trimmed_text_forward_equals_library_encode_text(tiny_clip_encoder):
    ch = tiny_clip_encoder.channels[0]
    tokens = ch._tokenizer(["a login page", "an error dialog with a long message about a failed backup"])
    with torch.no_grad():
        torch.testing.assert_close(ch._encode_tokens(tokens), ch._model.encode_text(tokens), atol=1e-5, rtol=1e-5)


def test_text_embeddings_persist_in_disk_cache(tmp_path, tiny_options):
    from screenstate import ScreenClassifier
    from screenstate.embeddings.encoder import Encoder

    spec = {"classifier_configs": [{"name": "s", "examples_to_include": ["a settings page"]}]}
    a = ClipChannel(ClipOptions(model=tiny_options.clip_model, pretrained="random", device="cpu", precision="fp32"))
    ScreenClassifier(spec, encoder=Encoder("clip", [a]), cache=tmp_path)  # the feature store writes them
    first = a.encode_texts(["a settings page"])
    b = ClipChannel(ClipOptions(model=tiny_options.clip_model, pretrained="random", device="cpu", precision="fp32"))
    b._encode_tokens = None  # a second process must not run the text tower for a cached example
    ScreenClassifier(spec, encoder=Encoder("clip", [b]), cache=tmp_path)
    torch.testing.assert_close(b.encode_texts(["a settings page"]), first, atol=1e-3, rtol=1e-3)


def _tiny(tiny_options, precision: str) -> ClipChannel:
    return ClipChannel(
        ClipOptions(model=tiny_options.clip_model, pretrained="random", device="cpu", precision=precision)
    )


def test_auto_precision_is_measured_once_per_machine(tiny_options, tmp_path, monkeypatch):
    import screenstate.embeddings.clip as clip_mod
    from screenstate.embeddings.cache import set_cache_root

    set_cache_root(tmp_path)  # the conftest fixture restores the test cache afterwards
    monkeypatch.setattr(clip_mod, "cpu_supports_bf16", lambda: True)  # calibrate even where bf16 is emulated
    first = _tiny(tiny_options, "auto")
    c = first.precision_choice
    assert c.source == "calibrated" and [t.precision for t in c.trials] == ["fp32", "bf16"]
    assert c.trials[1].agreement > 0.9  # the tiny model's bf16 embeddings track fp32's
    assert first.dtype == clip_mod.DTYPES[c.precision] and first.model_id.endswith(str(first.dtype)[6:])
    assert next(first._model.parameters()).dtype == first.dtype
    second = _tiny(tiny_options, "auto")
    assert second.precision_choice.source == "cache" and second.dtype == first.dtype


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_explicit_precision_never_calibrates(tiny_options, monkeypatch, precision, dtype):
    import screenstate.embeddings.clip as clip_mod

    def boom(*a, **k):
        raise AssertionError("calibrated although a precision was given")

    monkeypatch.setattr(clip_mod, "choose", boom)
    monkeypatch.setattr(clip_mod, "cpu_supports_bf16", lambda: True)
    ch = _tiny(tiny_options, precision)
    assert ch.dtype == dtype and ch.precision_choice.source == "explicit"
    assert ch.precision_choice.precision == precision
