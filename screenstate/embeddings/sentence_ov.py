"""A sentence model of the all-MiniLM-L6-v2 kind (a BERT encoder, mean pooling over tokens,
unit norm: its ``modules.json``) run on OpenVINO, which the OCR already loads, instead of
``sentence_transformers``: a command imports neither torch, transformers nor
sentence-transformers (seconds of start-up, ``benchmarks/bench_startup.py``; gigabytes of
install, README: Install size).

The encoder is built once per machine as an OpenVINO graph straight from the model's
``model.safetensors`` (read with ``safetensors.numpy``) and ``config.json`` (:func:`build`:
embeddings, the BERT layers, mean pooling and L2 normalisation, the same arithmetic as
transformers' ``BertModel`` and sentence-transformers' Pooling/Normalize), and kept as
OpenVINO IR under the cache root's ``sentence/``; it runs in fp32, so embeddings match
sentence-transformers' to float rounding (``tests/embeddings/test_sentence_ov.py`` checks
cosine >= 0.9999). Tokens come from the model's own ``tokenizer.json`` through
``tokenizers`` (what the fast tokenizer of transformers runs), truncated at ``max_length``.
"""

from __future__ import annotations

import json
import queue
import tempfile
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
#: part of the IR's cache key: a change to :func:`build` must not reuse graphs built before it
GRAPH_VERSION = "bert-graph-1"
#: infer requests that run at once (the service's parallel requests, #29): two share 2 cores
#: without one waiting for the other's whole batch (``tests/embeddings/test_sentence_ov.py``)
DEFAULT_LANES = 2


def _bert_config(model_dir: Path) -> dict[str, Any] | None:
    """``config.json`` when it describes an encoder :func:`build` reproduces, else None."""
    try:
        cfg = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError):
        return None
    ok = (
        cfg.get("model_type") == "bert"
        and cfg.get("hidden_act") == "gelu"
        and cfg.get("position_embedding_type", "absolute") == "absolute"
    )
    return cfg if ok else None


def supported(model_dir: Path) -> bool:
    """Whether ``model_dir`` is a BERT Transformer -> mean pooling -> Normalize model with a
    ``tokenizer.json`` and ``model.safetensors``, and OpenVINO, safetensors and tokenizers
    are installed."""
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
        and _bert_config(model_dir) is not None
        and (model_dir / "tokenizer.json").is_file()
        and (model_dir / "model.safetensors").is_file()
        and all(installed(m) for m in ("openvino", "tokenizers", "safetensors"))
    )


def ir_path(model_dir: Path) -> Path:
    """Where the built model is kept: keyed by the weights file (path, size, mtime: no 90 MB
    read per start), the model config, the graph's version and OpenVINO's version."""
    import openvino as ov

    from screenstate.embeddings.cache import default_cache_dir

    w = model_dir / "model.safetensors"
    st = w.stat()
    parts = (
        str(w.resolve()),
        str(st.st_size),
        str(st.st_mtime_ns),
        (model_dir / "config.json").read_bytes(),
        GRAPH_VERSION,
        ov.get_version(),
    )
    key = digest_parts(parts, size=12)
    return default_cache_dir() / "sentence" / f"{key}.xml"


def _tensors(path: Path) -> dict[str, np.ndarray]:
    """The checkpoint's tensors by name, without a ``bert.`` prefix (some exports keep it)."""
    from safetensors.numpy import load_file

    return {k.removeprefix("bert."): v for k, v in load_file(str(path)).items()}


def build(model_dir: Path) -> Any:
    """The sentence encoder as an ``openvino.Model``: inputs ``input_ids``,
    ``attention_mask``, ``token_type_ids`` (int64 [batch, tokens]) -> float32 [batch, hidden],
    unit norm. BERT as transformers computes it: word + position + token-type embeddings,
    LayerNorm; per layer self-attention (padding masked with float32's minimum) + residual,
    LayerNorm, exact-erf GELU feed-forward + residual, LayerNorm; then the mean of the token
    states where the mask is 1 (sum / max(count, 1e-9)) over its L2 norm."""
    import openvino as ov
    import openvino.opset13 as op

    cfg = _bert_config(model_dir)
    if cfg is None:
        raise ValueError(f"{model_dir}/config.json: not a BERT encoder with GELU and absolute positions")
    w = _tensors(model_dir / "model.safetensors")
    hidden, heads, eps = int(cfg["hidden_size"]), int(cfg["num_attention_heads"]), float(cfg["layer_norm_eps"])
    head_dim = hidden // heads

    def const(name: str) -> Any:
        return op.constant(np.ascontiguousarray(w[name], dtype=np.float32))

    def linear(x: Any, name: str) -> Any:  # torch's Linear: x @ W.T + b
        return op.add(op.matmul(x, const(f"{name}.weight"), False, True), const(f"{name}.bias"))

    def layer_norm(x: Any, name: str) -> Any:
        norm = op.mvn(x, op.constant(np.array([-1], dtype=np.int64)), True, eps, "inside_sqrt")
        return op.add(op.multiply(norm, const(f"{name}.weight")), const(f"{name}.bias"))

    def split_heads(x: Any) -> Any:  # [b, t, hidden] -> [b, heads, t, head_dim]
        shaped = op.reshape(x, op.constant(np.array([0, 0, heads, head_dim], dtype=np.int64)), True)
        return op.transpose(shaped, op.constant(np.array([0, 2, 1, 3], dtype=np.int64)))

    names = ("input_ids", "attention_mask", "token_type_ids")
    ids, mask, types = (op.parameter([-1, -1], ov.Type.i64, name=n) for n in names)
    for p, n in zip((ids, mask, types), names):
        p.output(0).set_names({n})
    zero = op.constant(np.int64(0))
    tokens = op.gather(op.shape_of(ids), op.constant(np.int64(1)), zero)
    positions = op.range(zero, tokens, op.constant(np.int64(1)), "i64")
    x = op.add(
        op.add(op.gather(const("embeddings.word_embeddings.weight"), ids, zero),
               op.gather(const("embeddings.token_type_embeddings.weight"), types, zero)),
        op.gather(const("embeddings.position_embeddings.weight"), positions, zero),
    )  # fmt: skip
    x = layer_norm(x, "embeddings.LayerNorm")
    maskf = op.convert(mask, "f32")
    minimum = np.float32(np.finfo(np.float32).min)
    additive = op.multiply(op.subtract(op.constant(np.float32(1)), maskf), op.constant(minimum))
    additive = op.unsqueeze(additive, op.constant(np.array([1, 2], dtype=np.int64)))  # [b, 1, 1, t]
    scale = op.constant(np.float32(1 / np.sqrt(head_dim)))
    for i in range(int(cfg["num_hidden_layers"])):
        pre = f"encoder.layer.{i}"
        q, k, v = (split_heads(linear(x, f"{pre}.attention.self.{n}")) for n in ("query", "key", "value"))
        ctx = op.scaled_dot_product_attention(q, k, v, additive, scale, causal=False)
        ctx = op.transpose(ctx, op.constant(np.array([0, 2, 1, 3], dtype=np.int64)))
        ctx = op.reshape(ctx, op.constant(np.array([0, 0, hidden], dtype=np.int64)), True)
        x = layer_norm(op.add(linear(ctx, f"{pre}.attention.output.dense"), x), f"{pre}.attention.output.LayerNorm")
        ff = op.gelu(linear(x, f"{pre}.intermediate.dense"), "erf")
        x = layer_norm(op.add(linear(ff, f"{pre}.output.dense"), x), f"{pre}.output.LayerNorm")
    weights = op.unsqueeze(maskf, op.constant(np.int64(2)))  # [b, t, 1]
    axis = op.constant(np.array([1], dtype=np.int64))
    summed = op.reduce_sum(op.multiply(x, weights), axis, False)
    count = op.maximum(op.reduce_sum(weights, axis, False), op.constant(np.float32(1e-9)))
    pooled = op.normalize_l2(op.divide(summed, count), axis, 1e-24, "max")  # x / max(|x|, 1e-12)
    out = pooled.output(0)
    out.set_names({"sentence_embedding"})
    return ov.Model([out], [ids, mask, types], "sentence_encoder")


def save(model_dir: Path, xml: Path) -> None:
    """:func:`build` the model in ``model_dir`` and keep it as OpenVINO IR at ``xml`` (+ ``.bin``)."""
    import openvino as ov

    model = build(model_dir)
    xml.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=xml.parent) as tmp:
        ov.save_model(model, str(Path(tmp) / "m.xml"), compress_to_fp16=False)
        atomic_write(xml.with_suffix(".bin"), (Path(tmp) / "m.bin").read_bytes())  # the weights first,
        atomic_write(xml, (Path(tmp) / "m.xml").read_bytes())  # then the file that says it is complete


class OpenVinoSentence:
    """``encode(texts)`` -> float32 [n, dim], unit norm (mean of the token states where the
    attention mask is 1, as sentence-transformers' Pooling does). Up to ``lanes`` calls from
    different threads run at once, each on its own infer request of one compiled model, with
    the same vectors as one call at a time."""

    def __init__(self, model_dir: Path, max_length: int, threads: int = 0, lanes: int = DEFAULT_LANES) -> None:
        import openvino as ov
        from tokenizers import Tokenizer

        from screenstate.embeddings.cache import default_cache_dir

        if lanes < 1:
            raise ValueError(f"OpenVinoSentence: lanes >= 1 is required, got {lanes}")
        xml = ir_path(model_dir)
        if not xml.is_file() or not xml.with_suffix(".bin").is_file():
            save(model_dir, xml)
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
        compiled = core.compile_model(model, "CPU", cfg)
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for _ in range(lanes):
            self._idle.put(compiled.create_infer_request())
        self.lanes = lanes
        self.dim = int(model.outputs[0].get_partial_shape()[-1].get_length())

    def get_vocab(self) -> dict[str, int]:
        return self.tokenizer.get_vocab()

    def _infer(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        request = self._idle.get()  # waits while every lane is busy
        try:
            return np.array(request.infer(feeds)[0], dtype=np.float32)  # inputs by the names build() gave them
        finally:
            self._idle.put(request)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), batch_size):
            enc = self.tokenizer.encode_batch(texts[i : i + batch_size])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            out[i : i + len(enc)] = self._infer(
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )
        return out
