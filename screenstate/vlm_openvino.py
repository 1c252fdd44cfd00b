"""The VLM on OpenVINO: an Idefics3 (SmolVLM) model converted once, run with greedy decoding.

Three graphs are converted with ``openvino.convert_model`` from the model's own torch modules
and cached on disk (``<cache dir>/openvino-vlm/<key>/``), so a later process loads them
without torch weights:

- ``embed``: token ids -> embeddings (the language model's input table);
- ``vision``: 512 px tiles -> image tokens (SigLIP tower + pixel-shuffle connector; full tiles,
  which is what the Idefics3 processor produces when it splits a screenshot);
- ``decoder``: the Llama language model as one step with an explicit KV cache
  (embeddings, past keys, past values -> last logits, keys, values), the same weights and
  the same math as ``LlamaModel`` (tests compare logits and tokens with transformers).

Precision (:func:`choose_precision`): ``fp32``; ``bf16`` where the CPU computes it natively;
``int8`` / ``int4`` weights (nncf weight compression; activations in bf16 where native, else
fp32). A candidate is kept only if it generates exactly fp32's tokens on a fixed prompt set
(``calibrate.py`` measures and caches the choice per machine). Anything else (other
architectures, padded tiles, no OpenVINO) runs on torch, the fallback.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from screenstate.embeddings.cache import default_cache_dir
from screenstate.hashing import digest

#: weight forms the export can be compressed to (nncf), and precisions built from them
WEIGHTS = ("fp32", "int8", "int4")
PRECISIONS = ("fp32", "bf16", "int8", "int4")
#: int4 groups (must divide the layer widths; SmolVLM's 576/768/1536/3072 all divide by 64)
INT4_GROUP = 64
PARTS = ("embed", "vision", "decoder")


class UnsupportedVlm(ValueError):
    """This model or input is not one the OpenVINO path handles (the torch path answers)."""


def supported(model: Any) -> bool:
    """Idefics3 (SmolVLM) with a Llama language model: what the converted graphs reproduce."""
    cfg = getattr(model, "config", None)
    text = getattr(cfg, "text_config", None)
    return getattr(cfg, "model_type", "") == "idefics3" and getattr(text, "model_type", "") == "llama"


class _Embed(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.table = model.model.text_model.embed_tokens

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.table(ids)


class _Vision(torch.nn.Module):
    """Full 512 px tiles -> image tokens: with no padded patch, Idefics3's position ids are
    0..n-1 and its attention mask is all ones, so both are dropped from the graph."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.vision = model.model.vision_model
        self.connector = model.model.connector

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        emb = self.vision.embeddings
        x = emb.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        x = x + emb.position_embedding.weight[: x.shape[1]]
        x = self.vision.encoder(inputs_embeds=x, attention_mask=None).last_hidden_state
        return self.connector(self.vision.post_layernorm(x))


class _DecoderStep(torch.nn.Module):
    """One Llama step over ``T`` new positions after ``P`` cached ones (batch 1, no padding)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        lm = model.model.text_model
        cfg = lm.config
        self.layers = lm.layers
        self.norm = lm.norm
        self.head = model.lm_head
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.register_buffer("inv_freq", lm.rotary_emb.inv_freq.detach().float().clone(), persistent=False)
        self.rope_scale = float(lm.rotary_emb.attention_scaling)

    @staticmethod
    def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        rot = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rot * sin

    def forward(
        self, embeds: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        t, p = embeds.shape[1], past_k.shape[3]
        pos = torch.arange(t, dtype=torch.float32) + p
        inv_freq: torch.Tensor = self.inv_freq  # type: ignore[assignment]  # torch: registered buffers are typed Tensor | Module
        freqs = pos[:, None] * inv_freq[None, :]
        angles = torch.cat((freqs, freqs), dim=-1)
        cos, sin = angles.cos() * self.rope_scale, angles.sin() * self.rope_scale
        keys = torch.arange(p + t)[None, :]
        allowed = keys <= (torch.arange(t) + p)[:, None]
        mask = torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf"))
        h = embeds
        new_k, new_v = [], []
        rep = self.n_heads // self.n_kv
        for i, layer in enumerate(self.layers):
            att = layer.self_attn
            x = layer.input_layernorm(h)
            q = att.q_proj(x).view(1, t, self.n_heads, self.head_dim).transpose(1, 2)
            k = att.k_proj(x).view(1, t, self.n_kv, self.head_dim).transpose(1, 2)
            v = att.v_proj(x).view(1, t, self.n_kv, self.head_dim).transpose(1, 2)
            k = torch.cat((past_k[i], self._rotate(k, cos, sin)), dim=2)
            v = torch.cat((past_v[i], v), dim=2)
            new_k.append(k)
            new_v.append(v)
            o = torch.nn.functional.scaled_dot_product_attention(
                self._rotate(q, cos, sin),
                k.repeat_interleave(rep, dim=1),
                v.repeat_interleave(rep, dim=1),
                attn_mask=mask,
                scale=att.scaling,
            )
            h = h + att.o_proj(o.transpose(1, 2).reshape(1, t, self.n_heads * self.head_dim))
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        return self.head(self.norm(h[:, -1:]))[:, 0], torch.stack(new_k), torch.stack(new_v)


@dataclass(frozen=True)
class Meta:
    """What the generation loop needs besides the graphs (saved beside them)."""

    image_token_id: int
    layers: int
    kv_heads: int
    head_dim: int
    tile: int
    eos_token_ids: tuple[int, ...]

    @classmethod
    def of(cls, model: Any) -> Meta:
        step = _DecoderStep(model)
        eos = model.generation_config.eos_token_id
        eos_ids = () if eos is None else tuple(int(e) for e in (eos if isinstance(eos, list) else [eos]))
        return cls(
            int(model.config.image_token_id),
            len(step.layers),
            step.n_kv,
            step.head_dim,
            int(model.config.vision_config.image_size),
            eos_ids,
        )


def model_key(name: str, model: Any) -> str:
    """Cache key of an export: the model's name, config and a sample of every weight tensor
    (a different checkpoint under the same name is a different key)."""
    parts = [name, model.config.to_json_string(use_diff=False)]
    for k, v in model.state_dict().items():
        flat = v.detach().reshape(-1)
        parts.append(f"{k}:{tuple(v.shape)}:{flat[:64].float().sum().item():.6e}:{flat[-64:].float().sum().item():.6e}")
    return digest("\n".join(parts), size=10)


def export_dir(key: str, root: Path | None = None) -> Path:
    return (root or default_cache_dir()) / "openvino-vlm" / key


def _convert(model: Any, out: Path) -> None:
    """Convert the three graphs (fp32 weights) and the meta file into ``out``."""
    import openvino as ov

    meta = Meta.of(model)
    model = model.float().eval()
    tile = meta.tile
    examples: dict[str, tuple[torch.nn.Module, Any]] = {
        "embed": (_Embed(model), torch.zeros(1, 3, dtype=torch.long)),
        "vision": (_Vision(model), torch.zeros(1, 3, tile, tile)),
        "decoder": (
            _DecoderStep(model),
            (
                torch.zeros(1, 3, model.config.text_config.hidden_size),
                torch.zeros(meta.layers, 1, meta.kv_heads, 2, meta.head_dim),
                torch.zeros(meta.layers, 1, meta.kv_heads, 2, meta.head_dim),
            ),
        ),
    }
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shapes are dynamic where they vary
        for part, (module, example) in examples.items():
            ov_model = ov.convert_model(module.eval(), example_input=example)
            ov.save_model(ov_model, out / f"{part}-fp32.xml", compress_to_fp16=False)
    (out / "meta.json").write_text(json.dumps(meta.__dict__))


def ensure_export(model: Any, key: str, root: Path | None = None) -> Path:
    """The cached fp32 export for ``key``, converting it first if absent (written to a
    temporary folder and renamed, so a crash or a concurrent process never leaves half)."""
    final = export_dir(key, root)
    if (final / "meta.json").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=".tmp-"))
    try:
        _convert(model, tmp)
        try:
            tmp.rename(final)
        except OSError:  # another process finished first: theirs is the same export
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def compressed(folder: Path, part: str, weights: str) -> Path:
    """``<part>-<weights>.xml`` next to the fp32 export, compressing it with nncf once."""
    path = folder / f"{part}-{weights}.xml"
    if weights == "fp32" or path.is_file():
        return path
    import nncf
    import openvino as ov

    ov_model = ov.Core().read_model(folder / f"{part}-fp32.xml")
    if weights == "int8":
        ov_model = nncf.compress_weights(ov_model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    elif weights == "int4":
        ov_model = nncf.compress_weights(
            ov_model, mode=nncf.CompressWeightsMode.INT4_SYM, group_size=INT4_GROUP, ratio=1.0, all_layers=True
        )
    else:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    tmp = folder / f".tmp-{part}-{weights}-{time.time_ns()}.xml"
    ov.save_model(ov_model, tmp, compress_to_fp16=False)
    tmp.with_suffix(".bin").rename(path.with_suffix(".bin"))
    tmp.rename(path)
    return path


def native_bf16() -> bool:
    """Whether OpenVINO computes bf16 natively on this CPU."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def plan(precision: str) -> tuple[str, str]:
    """(weights, inference precision) of a precision name."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision in ("fp32", "bf16"):
        return "fp32", "bf16" if precision == "bf16" else "f32"
    return precision, "bf16" if native_bf16() else "f32"


class OvVlm:
    """The compiled graphs at one precision; :meth:`generate` is greedy decoding.

    ``generate(input_ids [1, L], pixel_values [1, n, 3, 512, 512], mask) -> token ids``."""

    def __init__(self, folder: Path, precision: str = "fp32", threads: int = 0) -> None:
        import openvino as ov

        self.precision = precision
        weights, infer = plan(precision)
        self.meta = Meta(**{**json.loads((folder / "meta.json").read_text())})
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": infer, "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        core = ov.Core()
        self._parts = {
            part: core.compile_model(compressed(folder, part, weights), "CPU", config).create_infer_request()
            for part in PARTS
        }

    def _run(self, part: str, *inputs: np.ndarray) -> list[np.ndarray]:
        req = self._parts[part]
        req.infer(list(inputs))
        return [req.get_output_tensor(i).data.copy() for i in range(len(req.model_outputs))]

    def image_tokens(self, pixel_values: np.ndarray, pixel_mask: np.ndarray | None) -> np.ndarray:
        """Image tokens [tiles * 64, hidden] for the real tiles of one prompt."""
        tiles = pixel_values.reshape(-1, *pixel_values.shape[2:]).astype(np.float32)
        real = ~(tiles == 0).all(axis=(1, 2, 3))  # all-zero tiles are batch padding (as in transformers)
        if pixel_mask is not None and not pixel_mask.reshape(len(tiles), -1)[real].all():
            raise UnsupportedVlm("padded image tiles are answered on torch")
        feats = self._run("vision", np.ascontiguousarray(tiles[real]))[0]
        return feats.reshape(-1, feats.shape[-1])

    def generate(
        self,
        input_ids: np.ndarray,
        pixel_values: np.ndarray,
        pixel_mask: np.ndarray | None = None,
        max_new_tokens: int = 16,
        min_new_tokens: int = 0,
        max_time: float | None = None,
    ) -> list[int]:
        t0 = time.perf_counter()
        ids = input_ids.astype(np.int64).reshape(1, -1)
        embeds = self._run("embed", ids)[0]
        slots = ids[0] == self.meta.image_token_id
        feats = self.image_tokens(pixel_values, pixel_mask)
        if int(slots.sum()) != len(feats):
            raise ValueError(f"prompt has {int(slots.sum())} image tokens but the tiles give {len(feats)}")
        embeds[0, slots] = feats
        m = self.meta
        kv = np.zeros((m.layers, 1, m.kv_heads, 0, m.head_dim), np.float32)
        past_k, past_v = kv, kv
        out: list[int] = []
        while len(out) < max_new_tokens:
            logits, past_k, past_v = self._run("decoder", embeds, past_k, past_v)
            tok = int(np.argmax(logits[0]))
            out.append(tok)
            if tok in m.eos_token_ids and len(out) >= min_new_tokens:
                break
            if max_time is not None and time.perf_counter() - t0 > max_time:
                break
            embeds = self._run("embed", np.array([[tok]], np.int64))[0]
        return out


def available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def candidates() -> tuple[str, ...]:
    """Precisions worth measuring here: bf16 only where native, int8/int4 only with nncf."""
    out = ["fp32"]
    if native_bf16():
        out.append("bf16")
    try:
        import nncf  # noqa: F401

        out += ["int8", "int4"]
    except ImportError:
        pass
    return tuple(out)


#: calibration prompts: (text tokens before the image, text tokens after, seed); one tile each
CALIBRATION_PROMPTS = ((12, 9, 0), (5, 14, 1), (20, 6, 2))
#: tokens generated per calibration prompt
CALIBRATION_TOKENS = 8


def calibration_inputs(meta: Meta, vocab: int, seq_len: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The fixed prompt set: text tokens around one tile's image tokens, and a smooth
    deterministic tile (gradients and bars, in the processor's [-1, 1] range)."""
    out = []
    yy, xx = np.mgrid[0 : meta.tile, 0 : meta.tile] / meta.tile
    for before, after, seed in CALIBRATION_PROMPTS:
        rng = np.random.default_rng(seed)
        text = rng.integers(1000, min(vocab, 20000), before + after)
        ids = np.concatenate([text[:before], np.full(seq_len, meta.image_token_id), text[before:]])[None]
        bars = (np.sin(2 * np.pi * (seed + 2) * yy) > 0.6).astype(np.float64)
        img = np.stack([xx, yy, bars * (0.5 + 0.5 * xx)]) * 2 - 1
        out.append((ids.astype(np.int64), img[None, None].astype(np.float32)))
    return out


def token_agreement(reference: list[list[int]], other: list[list[int]]) -> float:
    """Fraction of calibration prompts whose generated tokens equal fp32's exactly."""
    return sum(a == b for a, b in zip(reference, other)) / max(1, len(reference))


@dataclass
class OvRunner:
    """A model's OpenVINO graphs at the chosen precision, and how the choice was made."""

    graphs: OvVlm
    choice: Any  # calibrate.Choice
    folder: Path

    @property
    def precision(self) -> str:
        return self.graphs.precision

    @classmethod
    def build(cls, model: Any, name: str, precision: str = "auto", root: Path | None = None) -> OvRunner:
        """Export (once, cached), choose the precision (``auto``: measured, see module
        docstring; an explicit name is used as is) and compile."""
        import openvino as ov

        from screenstate.embeddings.calibrate import Calibration, CalibrationKey, Choice, choose, thread_budget

        key = model_key(name, model)
        dtype = next(model.parameters()).dtype
        try:
            folder = ensure_export(model, key, root)
        finally:
            model.to(dtype)  # the export runs in fp32; the torch fallback keeps its precision
        threads = thread_budget()
        if precision != "auto":
            want = {"fp16": "fp32"}.get(precision, precision)
            if want not in PRECISIONS:
                from screenstate.errors import UnknownNameError

                raise UnknownNameError("OpenVINO VLM precision", precision, ["auto", *PRECISIONS])
            return cls(OvVlm(folder, want, threads), Choice(want, threads, "explicit"), folder)
        meta = Meta(**json.loads((folder / "meta.json").read_text()))
        seq = (meta.tile // model.config.vision_config.patch_size) ** 2 // model.config.scale_factor**2
        prompts = calibration_inputs(meta, model.config.text_config.vocab_size, seq)

        def build(prec: str, n: int) -> Any:
            graphs = OvVlm(folder, prec, n)
            return lambda: [graphs.generate(ids, px, None, CALIBRATION_TOKENS) for ids, px in prompts]

        cal = Calibration(
            CalibrationKey(f"vlm-openvino-{key}", f"openvino {ov.__version__}", threads),
            build,
            token_agreement,
            1.0,
            candidates(),
            repeats=1,
        )
        choice = choose(cal, cache_root=None if root is None else root / "calibration")
        return cls(OvVlm(folder, choice.precision, choice.threads), choice, folder)

    def generate(self, inputs: Any, **kwargs: Any) -> list[int]:
        """Greedy tokens for processor outputs (``input_ids``, ``pixel_values``, ...)."""
        mask = inputs.get("pixel_attention_mask")
        return self.graphs.generate(
            inputs["input_ids"].numpy(),
            inputs["pixel_values"].float().numpy(),
            None if mask is None else mask.numpy(),
            **kwargs,
        )
