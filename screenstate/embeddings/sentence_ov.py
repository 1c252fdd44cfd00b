"""A sentence model of the all-MiniLM-L6-v2 kind (a BERT encoder, mean pooling over tokens,
unit norm: its ``modules.json``) run on OpenVINO, which the OCR already loads, instead of
``sentence_transformers``: a command then imports neither sentence-transformers nor
transformers (seconds of start-up, ``benchmarks/bench_startup.py``).

The model is converted from its own weights once per machine (``openvino.convert_model`` on
the transformers model, the only time transformers is imported) and kept as OpenVINO IR under
the cache root's ``sentence/``; it runs in fp32, so embeddings match sentence-transformers'
to float rounding (``tests/embeddings/test_sentence.py`` checks cosine >= 0.9999). Tokens come
from the model's own ``tokenizer.json`` through ``tokenizers`` (what the fast tokenizer of
transformers runs), truncated at ``max_length``.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from screenstate.atomic import atomic_write
from screenstate.hashing import digest_parts

_EXPECTED_MODULES = [
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
]


def supported(model_dir: Path) -> bool:
    """Whether ``model_dir`` is a Transformer -> mean pooling -> Normalize model with a
    ``tokenizer.json``, and OpenVINO and tokenizers are installed."""
    from screenstate.extras import installed

    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        pooling.get(k)
        for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    )
    return (
        [m.get("type") for m in modules] == _EXPECTED_MODULES
        and bool(mean_only)
        and (model_dir / "tokenizer.json").is_file()
        and installed("openvino")
        and installed("tokenizers")
    )


def _weights(model_dir: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            return model_dir / name
    raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {model_dir}")


def ir_path(model_dir: Path) -> Path:
    """Where the converted model is kept: keyed by the weights file (path, size, mtime: no 90 MB
    read per start), the model config and OpenVINO's version."""
    import openvino as ov

    from screenstate.embeddings.cache import default_cache_dir

    w = _weights(model_dir)
    st = w.stat()
    parts = (
        str(w.resolve()),
        str(st.st_size),
        str(st.st_mtime_ns),
        (model_dir / "config.json").read_bytes(),
        ov.get_version(),
    )
    key = digest_parts(parts, size=12)
    return default_cache_dir() / "sentence" / f"{key}.xml"


def convert(model_dir: Path, xml: Path) -> None:
    """Convert the transformers model in ``model_dir`` to OpenVINO IR at ``xml`` (+ ``.bin``)."""
    import tempfile
    import warnings

    import openvino as ov
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its config notes (loss_type) are not the user's business
    try:
        with warnings.catch_warnings():  # nor the tracer's notes on the model's Python branches
            warnings.simplefilter("ignore")
            model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
            ids = torch.ones(2, 8, dtype=torch.long)
            example = {"input_ids": ids, "attention_mask": ids, "token_type_ids": torch.zeros_like(ids)}
            with torch.inference_mode():
                converted = ov.convert_model(model, example_input=example)
    finally:
        hf_logging.set_verbosity(verbosity)
    xml.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=xml.parent) as tmp:
        ov.save_model(converted, str(Path(tmp) / "m.xml"), compress_to_fp16=False)
        atomic_write(xml.with_suffix(".bin"), (Path(tmp) / "m.bin").read_bytes())  # the weights first,
        atomic_write(xml, (Path(tmp) / "m.xml").read_bytes())  # then the file that says it is complete


class OpenVinoSentence:
    """``encode(texts)`` -> float32 [n, dim], unit norm (mean of the token states where the
    attention mask is 1, as sentence-transformers' Pooling does)."""

    def __init__(self, model_dir: Path, max_length: int, threads: int = 0) -> None:
        import openvino as ov
        from tokenizers import Tokenizer

        from screenstate.embeddings.cache import default_cache_dir

        xml = ir_path(model_dir)
        if not xml.is_file() or not xml.with_suffix(".bin").is_file():
            convert(model_dir, xml)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]")
        cfg: dict[str, Any] = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",  # bit-for-bit the model's fp32 arithmetic, not bf16
            "CACHE_DIR": str(default_cache_dir() / "openvino"),
        }
        if threads:
            cfg["INFERENCE_NUM_THREADS"] = threads
        core = ov.Core()
        model = core.read_model(str(xml))
        self._inputs = [p.get_any_name() for p in model.inputs]
        self._request = core.compile_model(model, "CPU", cfg).create_infer_request()
        self._lock = threading.Lock()
        self.dim = int(model.outputs[0].get_partial_shape()[-1].get_length())

    def get_vocab(self) -> dict[str, int]:
        return self.tokenizer.get_vocab()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), batch_size):
            enc = self.tokenizer.encode_batch(texts[i : i + batch_size])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            with self._lock:
                hidden = np.array(self._request.infer({n: feeds[n] for n in self._inputs})[0], dtype=np.float32)
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            out[i : i + len(enc)] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out
