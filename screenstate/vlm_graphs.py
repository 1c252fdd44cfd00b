"""The torch modules the OpenVINO VLM graphs are converted from (``vlm_openvino.py``).

Each reproduces one part of Idefics3 (SmolVLM) with a Llama language model, with the same
weights and math as transformers (tests compare logits and image tokens), in a form that
converts to one static graph: ``_Embed`` (token ids -> embeddings), ``_Vision`` (full
512 px tiles -> image tokens) and ``_DecoderStep`` (one step with an explicit KV cache),
converted as ``_StatefulStep`` and made stateful by :func:`make_stateful` (the cache lives in
the compiled graph).
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
        """Stacked caches [layers, 1, kv_heads, P, head_dim] in and out (the torch reference)."""
        logits, kv = self.step(embeds, [(past_k[i], past_v[i]) for i in range(len(self.layers))])
        return logits, torch.stack([k for k, _ in kv]), torch.stack([v for _, v in kv])

    def step(
        self, embeds: torch.Tensor, past: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Last position's logits and each layer's (keys, values) after ``embeds``' positions.

        Written in the form OpenVINO's CPU plugin fuses into one attention node that keeps
        the cache in place (``StatefulSDPAFusion``: past -> concat -> grouped-query expand
        -> SDPA), so a converted stateful graph never copies the cache per step."""
        t, p = embeds.shape[1], past[0][0].shape[2]
        pos = torch.arange(t, dtype=torch.float32) + p
        inv_freq: torch.Tensor = self.inv_freq  # type: ignore[assignment]  # torch: registered buffers are typed Tensor | Module
        freqs = pos[:, None] * inv_freq[None, :]
        angles = torch.cat((freqs, freqs), dim=-1)
        cos, sin = angles.cos() * self.rope_scale, angles.sin() * self.rope_scale
        keys = torch.arange(p + t)[None, :]
        allowed = keys <= (torch.arange(t) + p)[:, None]
        mask = torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf"))
        h = embeds
        present = []
        rep = self.n_heads // self.n_kv
        for layer, (past_k, past_v) in zip(self.layers, past):
            att = layer.self_attn
            x = layer.input_layernorm(h)
            q = att.q_proj(x).view(1, t, self.n_heads, self.head_dim).transpose(1, 2)
            k = att.k_proj(x).view(1, t, self.n_kv, self.head_dim).transpose(1, 2)
            v = att.v_proj(x).view(1, t, self.n_kv, self.head_dim).transpose(1, 2)
            k = torch.cat((past_k, self._rotate(k, cos, sin)), dim=2)
            v = torch.cat((past_v, v), dim=2)
            present.append((k, v))
            o = torch.nn.functional.scaled_dot_product_attention(
                self._rotate(q, cos, sin), self._expand(k, rep), self._expand(v, rep), attn_mask=mask, scale=att.scaling
            )
            h = h + att.o_proj(o.transpose(1, 2).reshape(1, t, self.n_heads * self.head_dim))
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        return self.head(self.norm(h[:, -1:]))[:, 0], present

    @staticmethod
    def _expand(kv: torch.Tensor, rep: int) -> torch.Tensor:
        """[1, kv_heads, L, d] -> [1, kv_heads * rep, L, d], each head repeated ``rep`` times
        (transformers' ``repeat_kv``)."""
        b, n, length, d = kv.shape
        return kv[:, :, None].expand(b, n, rep, length, d).reshape(b, n * rep, length, d)


class _StatefulStep(torch.nn.Module):
    """``_DecoderStep`` with one (keys, values) input and output per layer and a ``beam``
    index (always ``[0]``: batch 1) gathering the past, the inputs the CPU plugin's fused
    attention expects once the caches become the graph's state (``vlm_openvino._convert``)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.step = _DecoderStep(model)

    def forward(self, embeds: torch.Tensor, beam: torch.Tensor, *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pairs = [
            (past[2 * i].index_select(0, beam), past[2 * i + 1].index_select(0, beam)) for i in range(len(past) // 2)
        ]
        logits, present = self.step.step(embeds, pairs)
        return (logits, *[x for kv in present for x in kv])


def make_stateful(ov_model: Any, layers: int, kv_heads: int, head_dim: int) -> Any:
    """Turn a converted ``_StatefulStep`` (inputs ``embeds, beam, k0, v0, ...``; outputs
    ``logits, k0, v0, ...``) into a stateful graph: the caches become its state (reset per
    answer with ``reset_state()``), so a step feeds one embedding and reads one row of logits.

    The shapes and types are the ones the CPU plugin's fusion matches (a batch-dynamic
    cache with an initializer, an i32 beam index); with them each layer's attention runs
    as one node appending to its cache in place (the converted explicit-cache step copied
    ~40 MB of cache in and out per token at a screenshot's 870-token prompt)."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops
    from openvino._offline_transformations import apply_make_stateful_transformation

    cache = [f"{kind}.{i}" for i in range(layers) for kind in ("key", "value")]
    for port, name in zip(ov_model.inputs, ["embeds", "beam_idx", *(f"past.{c}" for c in cache)]):
        port.get_tensor().set_names({name})
        param = port.get_node()
        if name == "beam_idx":
            param.set_element_type(ov.Type.i32)
            param.set_partial_shape(ov.PartialShape([-1]))
        elif name != "embeds":
            param.set_partial_shape(ov.PartialShape([-1, kv_heads, -1, head_dim]))
    for port, name in zip(ov_model.outputs, ["logits", *(f"present.{c}" for c in cache)]):
        port.get_tensor().set_names({name})
    ov_model.validate_nodes_and_infer_types()
    apply_make_stateful_transformation(ov_model, {f"past.{c}": f"present.{c}" for c in cache})
    batch = ops.shape_of(ov_model.input("beam_idx"), output_type="i64")
    for node in ov_model.get_ops():
        if node.get_type_name() == "ReadValue":  # empty cache [batch, kv heads, 0, head dim] on reset
            dims = [
                ops.constant(np.array([d.get_min_length()], np.int64))
                for d in list(node.get_output_partial_shape(0))[1:]
            ]
            zeros = ops.broadcast(
                ops.constant(0.0, dtype=node.get_output_element_type(0)), ops.concat([batch, *dims], 0)
            )
            node.set_arguments([zeros])
    ov_model.validate_nodes_and_infer_types()
    return ov_model
