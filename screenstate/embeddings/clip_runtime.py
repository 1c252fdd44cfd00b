"""How the CLIP towers run on this CPU: torch fp32 / bf16 or OpenVINO fp32 / bf16, measured.

``precision="auto"`` on CPU (see ``clip.py``) measures, the first time a model is loaded on
a machine, each candidate against torch fp32 (the reference) on the inputs the channel
sees: a batch of images at the model's input size (image tower) and a batch of prompts
(text tower), each tower decided on its own. A candidate qualifies only if every embedding
keeps a cosine of at least ``CLIP_AGREEMENT`` with fp32's (the precision check's
tolerance), and wins only if faster by the calibration margin (``calibrate.py``); the
choices are cached per machine like every precision choice.

Candidates: ``fp32``; ``bf16`` (torch) where the CPU has native bf16; ``ov-fp32`` and
``ov-bf16`` (OpenVINO; bf16 only where OpenVINO computes it natively) where OpenVINO is
installed. The towers are converted with ``openvino.convert_model`` from the loaded model
once and kept as IR under the cache root's ``openvino-clip/<key>/`` (the key covers the
architecture and a sample of every weight). The text tower is converted as the channel
runs it: tokens trimmed to the longest prompt (dynamic length), causal mask, argmax pooling.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from screenstate.embeddings.cache import default_cache_dir
from screenstate.embeddings.calibrate import Calibration, CalibrationKey, Choice, choose
from screenstate.extras import installed
from screenstate.hashing import digest

#: every calibration embedding must keep at least this cosine with fp32's
#: (bf16 ViT-B-32 embeddings sit around 0.999; a broken kernel falls far below)
CLIP_AGREEMENT = 0.99
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
TOWERS = ("image", "text")

Encode = Callable[[torch.Tensor], torch.Tensor]


def min_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Smallest row-wise cosine between two [n, D] embedding batches."""
    return float(torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=-1).min())


class _Image(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(x)


class _Text(torch.nn.Module):
    """Tokens already trimmed to the longest prompt -> text embeddings (``clip.py``'s
    ``_encode_tokens``: with a causal mask, padding after the end token changes nothing)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        length = x.shape[1]
        h = m.token_embedding(x) + m.positional_embedding[:length]
        h = m.ln_final(m.transformer(h, attn_mask=m.attn_mask[:length, :length]))
        h = h[torch.arange(h.shape[0]), x.argmax(dim=-1)]
        proj = m.text_projection
        return proj(h) if isinstance(proj, torch.nn.Linear) else h @ proj


def text_convertible(model: Any) -> bool:
    """Whether the text tower is open_clip's standard one (what :class:`_Text` reproduces)."""
    needed = ("token_embedding", "positional_embedding", "transformer", "ln_final", "attn_mask", "text_projection")
    return all(hasattr(model, a) for a in needed) and getattr(model, "text_pool_type", "argmax") == "argmax"


def model_key(name: str, model: Any) -> str:
    """Export key: the name and a sample of every weight tensor (another checkpoint, another key)."""
    parts = [name]
    for k, v in model.state_dict().items():
        flat = v.detach().reshape(-1).float()
        parts.append(f"{k}:{tuple(v.shape)}:{flat[:64].sum().item():.6e}:{flat[-64:].sum().item():.6e}")
    return digest("\n".join(parts), size=10)


def export(model: Any, key: str, tower: str, example: torch.Tensor, root: Path | None = None) -> Path:
    """The tower's fp32 IR (converted once; written to a temporary folder and renamed)."""
    import openvino as ov

    final = (root or default_cache_dir()) / "openvino-clip" / key / f"{tower}.xml"
    if final.is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=".tmp-"))
    try:
        module = (_Image if tower == "image" else _Text)(copy.deepcopy(model).float().eval())
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            ov_model = ov.convert_model(module, example_input=example)
        ov.save_model(ov_model, tmp / "m.xml", compress_to_fp16=False)
        (tmp / "m.bin").replace(final.with_suffix(".bin"))
        (tmp / "m.xml").replace(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def ov_runner(path: Path, precision: str, threads: int) -> Encode:
    """A compiled tower: float32 tensor (pixels or int64 tokens) -> float32 embeddings."""
    import openvino as ov

    config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
    config["PERFORMANCE_HINT"] = "LATENCY"
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    req = ov.Core().compile_model(path, "CPU", config).create_infer_request()

    def run(x: torch.Tensor) -> torch.Tensor:
        req.infer([np.ascontiguousarray(x.numpy())])
        return torch.from_numpy(req.get_output_tensor(0).data.copy())

    return run


def candidates(torch_bf16: bool) -> tuple[str, ...]:
    out = ["fp32"] + (["bf16"] if torch_bf16 else [])
    if installed("openvino"):
        import openvino as ov

        out.append("ov-fp32")
        if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            out.append("ov-bf16")
    return tuple(out)


@dataclass(frozen=True)
class TowerChoice:
    """How one tower runs: the calibration's choice and, for OpenVINO, the compiled tower."""

    choice: Choice
    run: Encode | None  # None: torch

    @property
    def runtime(self) -> str:
        return self.choice.precision


def choose_tower(
    model: Any,
    tower: str,
    example: torch.Tensor,
    key: CalibrationKey,
    options: tuple[str, ...],
    torch_models: dict[str, Any],
    export_key: str,
) -> TowerChoice:
    """Measure ``options`` on ``example`` for one tower (fp32 first, the reference)."""
    runners: dict[str, Encode] = {}

    def build(precision: str, n_threads: int) -> Callable[[], torch.Tensor]:
        if precision.startswith("ov-"):
            path = export(model, export_key, tower, example if tower == "text" else example.float())
            run = runners[precision] = ov_runner(path, precision[3:], n_threads)
            return lambda: run(example).float()
        if precision not in torch_models:
            torch_models[precision] = copy.deepcopy(model).to(DTYPES[precision])
        m = torch_models[precision]
        x = example if tower == "text" else example.to(DTYPES[precision])

        def run_torch() -> torch.Tensor:
            with torch.inference_mode():
                return (_Text(m) if tower == "text" else _Image(m))(x).float()

        return run_torch

    choice = choose(Calibration(key, build, min_cosine, CLIP_AGREEMENT, options))
    if not choice.precision.startswith("ov-"):
        return TowerChoice(choice, None)
    run = runners.get(choice.precision)
    if run is None:  # from the cache: compile the chosen one only
        path = export(model, export_key, tower, example)
        run = ov_runner(path, choice.precision[3:], choice.threads)
    return TowerChoice(choice, run)
