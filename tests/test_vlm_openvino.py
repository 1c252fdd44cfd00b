"""The VLM on OpenVINO (tiny SmolVLM architecture from its config, random weights): the
converted graphs reproduce transformers' logits and tokens, the export and the precision
choice are cached, and torch answers what the graphs do not cover."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("openvino")

from screenstate import vlm_openvino as ovm  # noqa: E402
from screenstate.errors import ModelNotAvailableError, UnknownNameError  # noqa: E402
from screenstate.vlm import VLM  # noqa: E402
from screenstate.vlm_agreement import LOGIT_TOLERANCE, Scored  # noqa: E402
from screenstate.vlm_agreement import check as agreement_check  # noqa: E402
from screenstate.vlm_random import smolvlm_random  # noqa: E402

QUESTION = "which file is selected?"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny SmolVLM (fp32, torch runtime) and its processor."""
    vlm, _ = smolvlm_random(tmp_path_factory.mktemp("smolvlm"), "tiny", 6, precision="fp32", runtime="torch")
    return vlm


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory):
    """A cache root holding the tiny model's fp32 export (converted once for the module)."""
    root = tmp_path_factory.mktemp("ov-export")
    folder = ovm.ensure_export(tiny._model, ovm.model_key("tiny-smolvlm", tiny._model), root)
    for part in ovm.PARTS:
        ovm.compressed(folder, part, "int8")
    return root


@pytest.fixture
def root(exported, tmp_path):
    """A fresh cache root (own calibration cache) with a copy of the export."""
    import shutil

    shutil.copytree(exported / "openvino-vlm", tmp_path / "openvino-vlm")
    return tmp_path


@pytest.fixture(scope="module")
def screen(data_dir):
    return Image.open(data_dir / "file_chooser.png").convert("RGB")


def _ov(tiny, root, precision="fp32", runtime="openvino", model="tiny-smolvlm"):
    return VLM(
        model=model,
        model_obj=tiny._model,
        processor=tiny._processor,
        device="cpu",
        precision=precision,
        max_new_tokens=6,
        runtime=runtime,
        export_root=root,
    )


def test_decoder_step_matches_transformers_logits(tiny):
    """The decoder graph's source module: prefill then one cached step, same logits as the model's."""
    model = tiny._model
    step = ovm._DecoderStep(model).eval()
    emb = model.model.text_model.embed_tokens
    ids = torch.tensor([[5, 17, 230, 999, 42, 7]])
    meta = ovm.Meta.of(model)
    empty = torch.zeros(meta.layers, 1, meta.kv_heads, 0, meta.head_dim)
    with torch.inference_mode():
        ref = model.model.text_model(input_ids=ids).last_hidden_state
        ref_logits = model.lm_head(ref)[:, -1]
        logits, k, v = step(emb(ids[:, :5]), empty, empty)
        logits2, k2, _ = step(emb(ids[:, 5:]), k, v)
    assert k.shape == (meta.layers, 1, meta.kv_heads, 5, meta.head_dim) and k2.shape[3] == 6
    ref5 = model.lm_head(model.model.text_model(input_ids=ids[:, :5]).last_hidden_state)[:, -1]
    torch.testing.assert_close(logits, ref5, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits2, ref_logits, atol=1e-4, rtol=1e-4)


def test_decoder_graph_keeps_the_kv_cache_as_state_in_fused_attention(exported):
    """The decoder is fed one embedding per step: the cache is the graph's state (one
    key and one value per layer), appended inside the CPU plugin's fused attention node
    rather than copied in and out as arrays."""
    import openvino as ov

    (folder,) = (exported / "openvino-vlm").iterdir()
    meta = ovm.Meta(**json.loads((folder / "meta.json").read_text()))
    compiled = ov.Core().compile_model(folder / "decoder-fp32.xml", "CPU")
    assert [p.get_any_name() for p in compiled.inputs] == ["embeds", "beam_idx"]
    assert [p.get_any_name() for p in compiled.outputs] == ["logits"]
    assert len(compiled.create_infer_request().query_state()) == 2 * meta.layers
    kinds = [op.get_rt_info()["layerType"].astype(str) for op in compiled.get_runtime_model().get_ops()]
    assert kinds.count("ScaledDotProductAttention") == meta.layers


def test_vision_graph_matches_image_features(tiny):
    model = tiny._model
    px = torch.randn(3, 3, 64, 64)
    with torch.inference_mode():
        ref = model.model.get_image_features(px[None]).pooler_output[0]
        ours = ovm._Vision(model)(px)
    torch.testing.assert_close(ours.reshape(-1, ours.shape[-1]), ref, atol=1e-5, rtol=1e-5)


def test_openvino_fp32_answers_with_torchs_tokens(tiny, screen, root):
    ref = tiny.answer(screen, QUESTION)
    ov = _ov(tiny, root)
    ans = ov.answer(screen, QUESTION)
    assert ans.runtime == "openvino fp32" and ref.runtime == "torch"
    assert ans.token_ids == ref.token_ids and len(ans.token_ids) == 6
    assert ans.text == ref.text


def test_export_is_cached_and_reused(tiny, screen, root, monkeypatch):
    (folder,) = (root / "openvino-vlm").iterdir()
    assert {"embed-fp32.xml", "vision-fp32.xml", "decoder-fp32.xml", "meta.json"} <= {p.name for p in folder.iterdir()}

    def no_convert(*a, **k):
        raise AssertionError("converted again")

    monkeypatch.setattr(ovm, "_convert", no_convert)
    assert _ov(tiny, root).answer(screen, QUESTION).runtime == "openvino fp32"
    assert not list(folder.parent.glob(".tmp-*"))


def test_auto_precision_keeps_only_agreeing_tokens_and_caches_the_choice(tiny, screen, root, monkeypatch):
    """Calibration measures fp32 and the compressed candidates, keeps one only if its tokens
    equal fp32's on the prompt set, and a second load reads the cached choice."""
    monkeypatch.setattr(ovm, "candidates", lambda: ("fp32", "int8"))
    vlm = _ov(tiny, root, precision="auto")
    ans = vlm.answer(screen, QUESTION)
    choice = vlm._ov.choice
    assert choice.source == "calibrated" and [t.precision for t in choice.trials] == ["fp32", "int8"]
    assert all(t.agreement in (0.0, 1 / 3, 2 / 3, 1.0) for t in choice.trials)
    assert choice.precision in ("fp32", "int8") and ans.runtime == f"openvino {choice.precision}"
    if choice.precision == "int8":
        assert choice.trials[1].ok
    again = _ov(tiny, root, precision="auto")
    again.answer(screen, QUESTION)
    assert again._ov.choice.source == "cache" and again._ov.precision == choice.precision


def test_a_disagreeing_candidate_is_never_chosen(tiny, root, monkeypatch):
    """A candidate whose logits leave the tolerance (and change the top-1 token) loses even
    when it is faster."""
    monkeypatch.setattr(ovm, "candidates", lambda: ("fp32", "int8"))
    real = ovm.OvVlm.decode

    def wrong_int8(self, *a, **k):
        out = real(self, *a, **k)
        if self.precision != "int8":
            return out
        logits = out.logits.copy()
        logits[:, 0] = logits.max(axis=1) + 5 * logits.std(axis=1)  # token 0 wins everywhere, by far
        return Scored(tuple(0 for _ in out.tokens), logits)

    monkeypatch.setattr(ovm.OvVlm, "decode", wrong_int8)
    runner = ovm.OvRunner.build(tiny._model, "tiny-smolvlm", "auto", root)
    assert runner.precision == "fp32" and not runner.choice.trials[1].ok
    assert runner.choice.trials[1].agreement == 0.0


def test_a_candidate_within_the_logit_tolerance_is_kept_even_if_a_token_flips(tiny, root, monkeypatch):
    """Near-flat logits (random weights): an error within the tolerance that flips an unsure
    token still qualifies (logit criterion); the candidate is fed fp32's tokens."""
    monkeypatch.setattr(ovm, "candidates", lambda: ("fp32", "int8"))
    real = ovm.OvVlm.decode
    fed, flipped = [], []

    def nudged_int8(self, embeds, n, forced=None, *a, **k):
        out = real(self, embeds, n, forced, *a, **k)
        if self.precision == "fp32":
            return out
        fed.append(forced)
        logits = out.logits.copy()
        top = np.sort(logits, axis=1)
        margin, spread = top[:, -1] - top[:, -2], logits.std(axis=1)
        i = int(np.argmin(margin / spread))  # the least sure position: its runner-up wins by a hair
        logits[i, np.argsort(logits[i])[-2]] += margin[i] + 1e-3 * spread[i]
        flipped.append(margin[i] / spread[i])
        return Scored(out.tokens, logits)

    monkeypatch.setattr(ovm.OvVlm, "decode", nudged_int8)
    runner = ovm.OvRunner.build(tiny._model, "tiny-smolvlm", "auto", root)
    trial = runner.choice.trials[1]
    assert fed and all(f is not None and len(f) > 0 for f in fed)  # teacher-forced on fp32's tokens
    assert max(flipped) < 0.5 * LOGIT_TOLERANCE  # unsure tokens flipped: only the logits criterion keeps them
    assert trial.ok and trial.agreement == 1.0


def test_padded_tiles_are_answered_on_torch(tiny, screen, root, monkeypatch):
    vlm = _ov(tiny, root)
    vlm.answer(screen, QUESTION)
    with pytest.raises(ovm.UnsupportedVlm):
        mask = np.ones((1, 1, 64, 64), bool)
        mask[..., 40:, :] = False
        vlm._ov.graphs.image_tokens(np.ones((1, 1, 3, 64, 64), np.float32), mask)

    def padded(*a, **k):
        raise ovm.UnsupportedVlm("padded")

    monkeypatch.setattr(vlm._ov, "generate", padded)
    ans = vlm.answer(screen, QUESTION)
    assert ans.runtime == "torch" and len(ans.token_ids) == 6


def test_other_architectures_stay_on_torch(tmp_path, screen):
    from screenstate.vlm import tiny_blip_vlm

    blip = tiny_blip_vlm(tmp_path)
    blip.runtime = "auto"
    assert blip.answer(screen, QUESTION).runtime == "torch"
    blip.runtime = "openvino"
    blip._ov = None
    with pytest.raises(ModelNotAvailableError, match="runtime='torch'"):
        blip.answer(screen, QUESTION)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"runtime": "onnx"}, "VLM runtime"), ({"runtime": "openvino", "precision": "int3"}, "OpenVINO VLM precision")],
)
def test_bad_names_list_the_choices(tiny, screen, root, kwargs, match):
    with pytest.raises(UnknownNameError, match=match):
        _ov(tiny, root, **kwargs).answer(screen, QUESTION)


def test_logit_check_criteria():
    ref = Scored((2, 0), np.array([[0.0, 0.1, 4.0, 0.0], [0.3, 0.29, 0.0, 0.0]]))
    spread = ref.logits.std(axis=1)
    same = agreement_check(ref, Scored((2, 0), ref.logits))
    assert same.tokens_equal and same.within and same.max_rel_error == 0.0
    # unsure position 2 flips within the tolerance: logits criterion passes, tokens do not
    flip = ref.logits.copy()
    flip[1, 1] += 0.02
    c = agreement_check(ref, Scored((2, 1), flip))
    assert not c.tokens_equal and c.within and c.ok and c.confident == 1 and c.confident_top1 == 1
    # an error beyond LOGIT_TOLERANCE x spread fails even with the same tokens' argmax elsewhere
    far = ref.logits.copy()
    far[0, 0] += 1.01 * LOGIT_TOLERANCE * spread[0] + 0.0
    far[0, 2] += 0.0
    c = agreement_check(ref, Scored((2, 0), far))
    assert c.max_rel_error > LOGIT_TOLERANCE and not c.within and c.tokens_equal and c.ok
    # confident top-1 changed: never within, however small the spread-relative error is elsewhere
    swap = ref.logits.copy()
    swap[0, 1] = 5.0
    assert not agreement_check(ref, Scored((1, 0), swap)).ok
    assert ovm.agreement([ref, ref], [Scored((2, 0), ref.logits), Scored((1, 0), swap)]) == 0.5


def test_several_questions_about_one_frame_encode_it_once(tiny, screen, root):
    vlm = _ov(tiny, root)
    a = vlm.answer(screen, QUESTION)
    b = vlm.answer(screen, "what is the title?")
    graphs = vlm._ov.graphs
    assert graphs.vision_runs == 1 and a.runtime == b.runtime == "openvino fp32"
    assert b.token_ids == tiny.answer(screen, "what is the title?").token_ids  # cached tokens answer alike
    vlm.answer(screen.rotate(90, expand=True), QUESTION)
    assert graphs.vision_runs == 2
