"""The torch modules the OpenVINO VLM graphs are converted from (``vlm_openvino.py``).

Each reproduces one part of Idefics3 (SmolVLM) with a Llama language model, with the same
weights and math as transformers (tests compare logits and image tokens), in a form that
converts to one static graph: ``_Embed`` (token ids -> embeddings), ``_Vision`` (full
512 px tiles -> image tokens) and ``_DecoderStep`` (one step with an explicit KV cache).
"""

from __future__ import annotations

from typing import Any

import torch


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
