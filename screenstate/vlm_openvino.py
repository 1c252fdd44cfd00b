"""The VLM on OpenVINO: an Idefics3 (SmolVLM) model converted once, run with greedy decoding.

Three graphs are converted with ``openvino.convert_model`` from the model's own torch modules
and cached on disk (``<cache dir>/openvino-vlm/<key>/``), so a later process loads them
without torch weights:

- ``embed``: token ids -> embeddings (the language model's input table);
- ``vision``: 512 px tiles -> image tokens (SigLIP tower + pixel-shuffle connector in one
  graph; full tiles, which is what the Idefics3 processor produces when it splits a
  screenshot); a screenshot's tiles go through as one batch (the CPU plugin runs each
  layer's attention as one fused subgraph; per tile, batches of 1, 4 and 13 came within
  10% of each other, measured on a loaded machine);
- ``decoder``: the Llama language model as one stateful step (embeddings -> last logits; the
  KV cache is the graph's state, appended in place by the CPU plugin's fused attention and
  reset per answer), the same weights and the same math as ``LlamaModel`` (tests compare
  logits and tokens with transformers). Measured at real size (2 cores, bf16, 872-token
  screenshot prompt): 24 ms per new token, against 83 ms when the cache went in and out of
  the graph as arrays each step. Its cache is kept in the inference precision (bf16 or f32;
  not the plugin's default u8, which the agreement check never measured).

Precision (``OvRunner.build``): ``fp32``; ``bf16`` where the CPU computes it natively;
``int8`` / ``int4`` weights (nncf weight compression; activations in bf16 where native, else
fp32). Not a candidate: int8 activations in the vision tower (nncf post-training
quantization on the calibration tiles): 2.3x faster per tile at real size and within the
tolerance on the calibration prompts, but 2.9x the spread off on a real screenshot (its
activation ranges came from the synthetic tiles), so calibration could not vouch for it.
No OpenVINO ``CACHE_DIR``: measured at real size (OpenVINO 2026.4, 2 cores) it loads bf16
blobs as well as fp32 ones, but saves ~1.4 s of ~3 s of compiling per process for ~1.2 GB
of disk per precision (the blobs hold the weights).

A candidate is kept only if it generates exactly fp32's tokens on a fixed prompt set,
or, fed fp32's tokens, its logits stay within a stated tolerance of fp32's
(``vlm_agreement.py``; ``calibrate.py`` measures and caches the choice per machine). Anything else (other
architectures, padded tiles, no OpenVINO) runs on torch, the fallback.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from screenstate.embeddings.cache import default_cache_dir
from screenstate.hashing import digest
from screenstate.lru import LRU
from screenstate.vlm_agreement import (
    CALIBRATION_TOKENS,
    Scored,
    agreement,
    calibration_inputs,
)
from screenstate.vlm_graphs import _DecoderStep, _Embed, _StatefulStep, _Vision, make_stateful

#: the agreement rule's version in the calibration key (a new rule measures again)
AGREEMENT_RULE = "logits1"
#: the export's form in its cache key (a new form converts again): the stateful decoder
EXPORT_FORM = "stateful1"

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
    parts = [name, EXPORT_FORM, model.config.to_json_string(use_diff=False)]
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
            _StatefulStep(model),
            (
                torch.zeros(1, 3, model.config.text_config.hidden_size),
                torch.zeros(1, dtype=torch.long),
                *[torch.zeros(1, meta.kv_heads, 2, meta.head_dim) for _ in range(2 * meta.layers)],
            ),
        ),
    }
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shapes are dynamic where they vary
        for part, (module, example) in examples.items():
            ov_model = ov.convert_model(module.eval(), example_input=example)
            if part == "decoder":
                ov_model = make_stateful(ov_model, meta.layers, meta.kv_heads, meta.head_dim)
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

    def __init__(self, folder: Path, precision: str = "fp32", threads: int = 0, images_kept: int = 4) -> None:
        import openvino as ov

        self.precision = precision
        weights, infer = plan(precision)
        self.meta = Meta(**{**json.loads((folder / "meta.json").read_text())})
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": infer,
            "PERFORMANCE_HINT": "LATENCY",
            "KV_CACHE_PRECISION": infer,
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        core = ov.Core()
        #: image tokens of the last ``images_kept`` images (by pixel digest); None: always encode
        self._images: LRU[str, np.ndarray] | None = LRU(images_kept) if images_kept > 0 else None
        self.vision_runs = 0
        self._parts = {
            part: core.compile_model(compressed(folder, part, weights), "CPU", config).create_infer_request()
            for part in PARTS
        }

    def _run(self, part: str, *inputs: np.ndarray) -> list[np.ndarray]:
        req = self._parts[part]
        req.infer(list(inputs))
        return [req.get_output_tensor(i).data.copy() for i in range(len(req.model_outputs))]

    def image_tokens(self, pixel_values: np.ndarray, pixel_mask: np.ndarray | None) -> np.ndarray:
        """Image tokens [tiles * 64, hidden] for the real tiles of one prompt; the last few
        images' tokens are kept, so several questions about one frame encode it once."""
        tiles = pixel_values.reshape(-1, *pixel_values.shape[2:]).astype(np.float32)
        real = ~(tiles == 0).all(axis=(1, 2, 3))  # all-zero tiles are batch padding (as in transformers)
        if pixel_mask is not None and not pixel_mask.reshape(len(tiles), -1)[real].all():
            raise UnsupportedVlm("padded image tiles are answered on torch")
        tiles = np.ascontiguousarray(tiles[real])
        key = digest(tiles.tobytes(), size=12) if self._images is not None else ""
        feats = self._images.get(key) if self._images is not None else None
        if feats is None:
            feats = self._run("vision", tiles)[0]
            feats = feats.reshape(-1, feats.shape[-1])
            self.vision_runs += 1
            if self._images is not None:
                self._images.put(key, feats)
        return feats

    def prompt_embeddings(
        self, input_ids: np.ndarray, pixel_values: np.ndarray, pixel_mask: np.ndarray | None = None
    ) -> np.ndarray:
        """The prompt's embeddings [1, L, hidden], image tokens in the image slots."""
        ids = input_ids.astype(np.int64).reshape(1, -1)
        embeds = self._run("embed", ids)[0]
        slots = ids[0] == self.meta.image_token_id
        feats = self.image_tokens(pixel_values, pixel_mask)
        if int(slots.sum()) != len(feats):
            raise ValueError(f"prompt has {int(slots.sum())} image tokens but the tiles give {len(feats)}")
        embeds[0, slots] = feats
        return embeds

    def decode(
        self,
        embeds: np.ndarray,
        max_new_tokens: int,
        forced: Sequence[int] | None = None,
        min_new_tokens: int = 0,
        deadline: float | None = None,
    ) -> Scored:
        """Greedy decoding from prompt embeddings, keeping each step's logits; with
        ``forced``, those tokens are fed instead of the argmax (teacher forcing)."""
        m = self.meta
        req = self._parts["decoder"]
        req.reset_state()  # an empty KV cache
        beam = np.zeros(1, np.int32)
        out: list[int] = []
        steps: list[np.ndarray] = []
        n = max_new_tokens if forced is None else len(forced)
        while len(out) < n:
            req.infer({"embeds": embeds, "beam_idx": beam})
            logits = req.get_tensor("logits").data.copy()
            steps.append(logits[0])
            tok = int(np.argmax(logits[0])) if forced is None else int(forced[len(out)])
            out.append(tok)
            if forced is None and tok in m.eos_token_ids and len(out) >= min_new_tokens:
                break
            if deadline is not None and time.perf_counter() > deadline:
                break
            embeds = self._run("embed", np.array([[tok]], np.int64))[0]
        return Scored(tuple(out), np.stack(steps) if steps else np.zeros((0, 0), np.float32))

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
        embeds = self.prompt_embeddings(input_ids, pixel_values, pixel_mask)
        deadline = None if max_time is None else t0 + max_time
        return list(self.decode(embeds, max_new_tokens, None, min_new_tokens, deadline).tokens)


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
        prompts = calibration_inputs(meta.image_token_id, meta.tile, model.config.text_config.vocab_size, seq)
        reference: list[Scored] = []  # fp32's outputs (measured first): the others are fed its tokens

        def build(prec: str, n: int) -> Any:
            graphs = OvVlm(folder, prec, n, images_kept=0)  # every run encodes its image (timed)

            def run() -> list[Scored]:
                out = []
                for i, (ids, px) in enumerate(prompts):
                    forced = reference[i].tokens if prec != "fp32" and reference else None
                    out.append(graphs.decode(graphs.prompt_embeddings(ids, px), CALIBRATION_TOKENS, forced))
                if prec == "fp32":
                    reference[:] = out
                return out

            return run

        cal = Calibration(
            CalibrationKey(f"vlm-openvino-{key}-{AGREEMENT_RULE}", f"openvino {ov.__version__}", threads),
            build,
            agreement,
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
