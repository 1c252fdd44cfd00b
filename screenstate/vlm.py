"""A small vision-language model for free-form questions, loaded only when needed.

Default: SmolVLM-256M-Instruct (any ``AutoModelForImageTextToText`` by name or local
path works; BLIP-VQA is the lighter option), with a token limit and a time budget.

``runtime="auto"`` (the default) answers on OpenVINO on CPU when it is installed and the
model is an Idefics3/SmolVLM one (``vlm_openvino.py``: converted once and cached, precision
and weight compression chosen by measurement and kept only where the tokens equal fp32's or
the logits stay within ``vlm_agreement.LOGIT_TOLERANCE`` of fp32's);
otherwise, and for inputs the converted graphs do not cover, on torch (bf16 on CPUs that
support it). Missing weights fail fast with the same message shape as the other models.
Tests pass a tiny model built from a config (``vlm_random.py``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from screenstate.errors import MissingExtraError, ModelNotAvailableError, UnknownNameError
from screenstate.extras import install_line

try:
    import torch
except ModuleNotFoundError as e:  # the default install has no torch: say which extra brings it
    raise MissingExtraError(f"the VLM (free-form questions) needs torch: {install_line('clip')}") from e

from screenstate.embeddings.clip import resolve_device, resolve_dtype  # noqa: E402 - needs torch
from screenstate.embeddings.defaults import DEFAULT_VLM  # noqa: E402
from screenstate.embeddings.hub import model_source  # noqa: E402
from screenstate.embeddings.images import ImageInput, load_image, resize_max_side  # noqa: E402

RUNTIMES = ("auto", "torch", "openvino")


@dataclass(frozen=True)
class VlmAnswer:
    """Generated text, seconds, generated tokens, and the runtime (and precision) that ran."""

    text: str
    seconds: float
    new_tokens: int
    runtime: str = "torch"
    token_ids: tuple[int, ...] = ()


class VLM:
    """Lazily loaded VLM: ``VLM().answer(img, "what is selected?")``."""

    def __init__(
        self,
        model: str = DEFAULT_VLM,
        device: str = "auto",
        precision: str = "auto",
        max_new_tokens: int = 48,
        time_budget_s: float = 30.0,
        max_side: int = 1024,
        model_obj: Any = None,
        processor: Any = None,
        allow_download: bool = True,
        runtime: str = "auto",
        export_root: Path | None = None,
    ) -> None:
        if runtime not in RUNTIMES:
            raise UnknownNameError("VLM runtime", runtime, list(RUNTIMES))
        self.model_name = model
        self.device = resolve_device(device)
        self.precision = precision
        self.dtype = resolve_dtype(precision if precision in ("auto", "fp32", "bf16", "fp16") else "auto", self.device)
        self.runtime = runtime
        self.export_root = export_root
        self._ov: Any = None  # OpenVINO graphs, once chosen (vlm_openvino.OvRunner)
        self.max_new_tokens = max_new_tokens
        self.time_budget_s = time_budget_s
        self.max_side = max_side
        self.allow_download = allow_download
        self._model = model_obj
        self._processor = processor
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None or self._ov is not None

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModelForImageTextToText, AutoProcessor

        source = model_source(
            self.model_name,
            self.allow_download,
            f"VLM weights {self.model_name!r} are not available offline and the model hub is unreachable. "
            "Fix: run `screenstate models pull --vlm` on a connected machine, or pass a local directory "
            "with --vlm-model /path/to/model.",
        )
        try:
            self._processor = AutoProcessor.from_pretrained(source)
            self._model = AutoModelForImageTextToText.from_pretrained(source, torch_dtype=self.dtype)
        except (OSError, ValueError) as e:
            raise ModelNotAvailableError(f"cannot load VLM from {source}: {e}") from e
        self._model = self._model.to(self.device).eval()

    def _openvino(self) -> Any:
        """The OpenVINO runner, or None where torch answers (see module docstring)."""
        if self._ov is None and self.runtime != "torch" and self.device.type == "cpu":
            from screenstate.vlm_openvino import OvRunner, available, supported

            if supported(self._model) and available():
                self._ov = OvRunner.build(self._model, self.model_name, self.precision, self.export_root)
            elif self.runtime == "openvino":
                raise ModelNotAvailableError(
                    f"VLM runtime 'openvino' needs the openvino package and an Idefics3/SmolVLM model; "
                    f"{self.model_name!r} is {getattr(self._model.config, 'model_type', '?')}. "
                    "Fix: pip install openvino, or use runtime='torch'."
                )
        return self._ov

    @property
    def runtime_used(self) -> str:
        """``torch`` or ``openvino <precision>`` (what the next answer runs on, once loaded)."""
        return f"openvino {self._ov.precision}" if self._ov is not None else "torch"

    def _inputs(self, img: Image.Image, question: str) -> Any:
        proc = self._processor
        if getattr(self._model.config, "model_type", "") == "blip":
            return proc(images=img, text=question, return_tensors="pt")
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        prompt = proc.apply_chat_template(messages, add_generation_prompt=True)
        return proc(text=prompt, images=[img], return_tensors="pt")

    @torch.inference_mode()
    def answer(self, image: ImageInput, question: str) -> VlmAnswer:
        """Generate a short answer within the token limit and time budget."""
        t0 = time.perf_counter()
        with self._lock:
            self._load()
            img = resize_max_side(load_image(image), self.max_side)
            inputs = self._inputs(img, question)
            ov = self._openvino()
            if ov is not None:
                from screenstate.vlm_openvino import UnsupportedVlm

                gen = self._model.generation_config
                try:
                    ids = ov.generate(
                        inputs,
                        max_new_tokens=self.max_new_tokens,
                        min_new_tokens=int(getattr(gen, "min_new_tokens", None) or 0),
                        max_time=self.time_budget_s,
                    )
                except UnsupportedVlm:
                    ids = None
                if ids is not None:
                    text = self._decode(torch.tensor(ids))
                    return VlmAnswer(text, time.perf_counter() - t0, len(ids), self.runtime_used, tuple(ids))
            inputs = inputs.to(self.device)
            for k, v in list(inputs.items()):
                if torch.is_floating_point(v):
                    inputs[k] = v.to(self._model.dtype)
            out = self._model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, max_time=self.time_budget_s, do_sample=False
            )
        prompt_len = 0 if getattr(self._model.config, "model_type", "") == "blip" else inputs["input_ids"].shape[1]
        new = out[0][prompt_len:]
        return VlmAnswer(
            self._decode(new), time.perf_counter() - t0, int(new.numel()), "torch", tuple(int(t) for t in new)
        )

    def _decode(self, ids: torch.Tensor) -> str:
        tok = getattr(self._processor, "tokenizer", self._processor)
        return str(tok.decode(ids, skip_special_tokens=True)).strip()


def tiny_blip_vlm(workdir: Path, width: int = 32, image_size: int = 32, max_new_tokens: int = 4) -> VLM:
    """A tiny random BLIP-VQA built from a config, with a 12-word vocabulary written to
    ``workdir``: exercises the real VLM path offline (tests, benchmarks); answers are noise."""
    from transformers import (  # type: ignore[attr-defined]  # transformers: lazy module, names not in its stubs
        BertTokenizerFast,
        BlipConfig,
        BlipForQuestionAnswering,
        BlipImageProcessor,
        BlipProcessor,
    )

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "what", "is", "the", "file", "selected", "report"]
    (workdir / "vocab.txt").write_text("\n".join(vocab))
    proc = BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": image_size, "width": image_size}),
        tokenizer=BertTokenizerFast(vocab_file=str(workdir / "vocab.txt")),
    )
    layers = {"intermediate_size": 2 * width, "num_hidden_layers": 2, "num_attention_heads": 2}
    cfg = BlipConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": width,
            "max_position_embeddings": 64,
            "bos_token_id": 5,
            "pad_token_id": 0,
            "sep_token_id": 3,
            "eos_token_id": 3,
            "encoder_hidden_size": width,
            **layers,
        },
        vision_config={"hidden_size": width, "image_size": image_size, "patch_size": image_size // 4, **layers},
        projection_dim=width,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BlipForQuestionAnswering(cfg)
    return VLM(model_obj=model, processor=proc, device="cpu", precision="fp32", max_new_tokens=max_new_tokens)
