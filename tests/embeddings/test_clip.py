from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image

from screenstate.embeddings import clip_runtime
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
    assert rel.dtype == np.float32  # the rules take numpy
    torch.testing.assert_close(torch.from_numpy(rel[0]), expected)


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
    torch.testing.assert_close(torch.from_numpy(rel)[0, 0], 0.5 * per_view[0] + 0.5 * per_view[1:].max())


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
    assert c.source == "calibrated" and [t.precision for t in c.trials] == list(clip_runtime.candidates(True))
    assert all(t.agreement > 0.9 for t in c.trials)  # the tiny model's bf16 / OpenVINO embeddings track fp32's
    assert (first._ov_image is not None) == c.precision.startswith("ov-")
    assert first.dtype == clip_mod.DTYPES.get(c.precision, torch.float32)
    assert first.model_id.endswith(c.precision if first._ov_image is not None else str(first.dtype)[6:])
    assert next(first._model.parameters()).dtype == first.dtype
    second = _tiny(tiny_options, "auto")
    assert second.precision_choice.source == "cache" and second.dtype == first.dtype
    assert second.precision_choice.precision == c.precision


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_explicit_precision_never_calibrates(tiny_options, monkeypatch, precision, dtype):
    import screenstate.embeddings.clip as clip_mod

    def boom(*a, **k):
        raise AssertionError("calibrated although a precision was given")

    monkeypatch.setattr(clip_runtime, "choose", boom)
    monkeypatch.setattr(clip_mod, "cpu_supports_bf16", lambda: True)
    ch = _tiny(tiny_options, precision)
    assert ch.dtype == dtype and ch.precision_choice.source == "explicit"
    assert ch.precision_choice.precision == precision


def test_openvino_towers_give_torchs_embeddings(tiny_options, tmp_path):
    """The converted towers (fp32) reproduce torch fp32's embeddings; the text tower takes any
    prompt length (tokens trimmed to the longest prompt, as the channel runs it)."""
    pytest.importorskip("openvino")
    ch = _tiny(tiny_options, "fp32")
    m, key = ch._model, clip_runtime.model_key("tiny", ch._model)
    x = torch.randn(3, 3, ch.image_size, ch.image_size, generator=torch.Generator().manual_seed(1))
    image = clip_runtime.ov_runner(clip_runtime.export(m, key, "image", x, tmp_path), "fp32", 2)
    with torch.inference_mode():
        assert clip_runtime.min_cosine(image(x), m.encode_image(x)) > 0.9999
    path = clip_runtime.export(m, key, "text", ch._tokenizer(["a login page"])[:, :6], tmp_path)
    text = clip_runtime.ov_runner(path, "fp32", 2)
    for prompts in (["a screenshot of a login page", "an error"], ["a very long prompt " * 6, "x"]):
        tokens = ch._tokenizer(prompts)
        trimmed = tokens[:, : int((tokens != 0).sum(1).max())]
        with torch.inference_mode():
            assert clip_runtime.min_cosine(text(trimmed), m.encode_text(tokens)) > 0.9999


def test_channel_on_openvino_where_chosen(tiny_options, tmp_path, monkeypatch):
    """Where calibration picks OpenVINO, both towers run on it and the channel's embeddings
    equal torch fp32's within the precision check's tolerance; the cache keys say so."""
    pytest.importorskip("openvino")
    import screenstate.embeddings.clip as clip_mod
    from screenstate.embeddings.cache import set_cache_root
    from screenstate.embeddings.calibrate import Choice

    set_cache_root(tmp_path)
    monkeypatch.setattr(clip_runtime, "choose", lambda cal: Choice("ov-fp32", 2, "calibrated"))
    monkeypatch.setattr(clip_mod, "cpu_supports_bf16", lambda: False)
    ov, ref = _tiny(tiny_options, "auto"), _tiny(tiny_options, "fp32")
    assert ov._ov_image is not None and ov._ov_text is not None
    assert ov.model_id.endswith(":ov-fp32") and ov.text_model_id.endswith(":ov-fp32")
    shots = [ov.prepare(Image.new("RGB", (320, 200), c)) for c in ("white", "navy")]
    a = torch.cat([f.views for f in ov.encode(shots)])
    b = torch.cat([f.views for f in ref.encode(shots)])
    assert clip_runtime.min_cosine(a, b) >= clip_runtime.CLIP_AGREEMENT
    texts = ["login page", "error dialog with a long explanation"]
    assert clip_runtime.min_cosine(ov.encode_texts(texts), ref.encode_texts(texts)) >= clip_runtime.CLIP_AGREEMENT
