"""The sentence model is loaded by sentence-transformers, so its own module config (pooling,
normalisation) decides the embedding; on the bundled all-MiniLM-L6-v2 that is mean pooling."""

from __future__ import annotations

import json
import shutil

import numpy as np
import torch

from screenstate.embeddings.sentence import SentenceEncoder, resolve_sentence_model

TEXTS = ["Sign in", "Forgot your password?", "An error occurred while saving the file", "OK"]


def _manual(path, texts, pooling: str) -> torch.Tensor:
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    model = AutoModel.from_pretrained(str(path)).eval()
    enc = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**enc).last_hidden_state
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        mask = enc["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1)


def test_bundled_model_is_mean_pooled_and_unit_norm():
    enc = SentenceEncoder()
    got = enc.encode(TEXTS)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32  # no torch on the default path
    got = torch.from_numpy(got)
    assert got.shape == (len(TEXTS), 384) and enc.dim == 384
    assert torch.allclose(got.norm(dim=-1), torch.ones(len(TEXTS)), atol=1e-5)
    assert torch.allclose(got, _manual(resolve_sentence_model("all-MiniLM-L6-v2"), TEXTS, "mean"), atol=1e-5)


def test_the_models_own_pooling_config_is_honoured(tmp_path):
    src = resolve_sentence_model("all-MiniLM-L6-v2")
    dst = tmp_path / "minilm-cls"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("model.safetensors"))
    (dst / "model.safetensors").symlink_to(src / "model.safetensors")
    cfg = json.loads((dst / "1_Pooling" / "config.json").read_text())
    cfg.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (dst / "1_Pooling" / "config.json").write_text(json.dumps(cfg))
    got = SentenceEncoder(str(dst)).encode(TEXTS)  # through sentence-transformers: numpy all the same
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    assert torch.allclose(torch.from_numpy(got), _manual(dst, TEXTS, "cls"), atol=1e-5)
    assert not np.allclose(got, SentenceEncoder().encode(TEXTS), atol=1e-2)  # mean pooling would differ
