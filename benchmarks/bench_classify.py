"""classify_throughput: images/s of ScreenClassifier.classify_batch (ViT-B-32, random
weights) against a plain open_clip loop (load, preprocess, encode one image at a time) in
the same run and the same precision: the headline is fp32 on both sides, so it measures
batching, threaded decoding and de-duplication alone. Precision is its own row (bf16 vs fp32,
each side against itself), and so is the cost of each view mode. The two sides alternate
and each keeps its best of two rounds, so load from other processes hits both alike."""

from __future__ import annotations

import json

import torch
from common import DEV, dev_files, timed
from PIL import Image
from run import result


def plain_open_clip_loop(files, texts, precision: str = "fp32") -> float:
    """images/s of the obvious loop; ``precision`` casts the model (bf16: pure bf16, as ours)."""
    import open_clip

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    model.eval().to(dtype)
    tok = open_clip.get_tokenizer("ViT-B-32")
    with torch.no_grad():
        tf = torch.nn.functional.normalize(model.encode_text(tok(texts)).float(), dim=-1)

        def loop():
            for f in files:
                x = preprocess(Image.open(f)).unsqueeze(0).to(dtype)
                feat = torch.nn.functional.normalize(model.encode_image(x).float(), dim=-1)
                ((1 + feat @ tf.T) / 2).argmax()

        return len(files) / timed(loop)


def ours(files, precision: str, views: str) -> float:
    from screenstate import ClassSpec, EncoderOptions, ScreenClassifier

    spec = ClassSpec.from_json(DEV / "classes.json")
    opts = EncoderOptions(clip_pretrained="random", precision=precision, views=views, device="cpu")
    clf = ScreenClassifier(spec, encoder="clip", options=opts, memory_cache=0)  # measure encoding
    clf.classify_batch(files[:4])  # warm-up (thread pools, kernels)
    return len(files) / timed(lambda: clf.classify_batch(files, batch_size=32))


def run(quick: bool) -> dict:
    files = dev_files(24 if quick else 96)
    texts = [
        t
        for c in json.loads((DEV / "classes.json").read_text())["classifier_configs"]
        for t in c["examples_to_include"]
    ]
    # the two sides alternate, best of two rounds each, so load from other processes hits both alike
    plain: dict[str, float] = {"fp32": 0.0, "bf16": 0.0}
    measured: dict[tuple[str, str], float] = {}
    configs = (("fp32", "letterbox"), ("bf16", "letterbox"), ("bf16", "squash"), ("bf16", "tiles"))
    for _ in range(2):
        for precision, views in configs:
            if views == "letterbox":
                plain[precision] = max(plain[precision], plain_open_clip_loop(files, texts, precision))
            key = (precision, views)
            measured[key] = max(measured.get(key, 0.0), ours(files, precision, views))
    rows = []
    for precision, views in configs:
        ips = measured[(precision, views)]
        rows.append(
            {
                "config": f"{precision} {views}",
                "images_per_s": ips,
                "plain_loop_images_per_s": plain[precision],
                "vs_plain_loop_same_precision": ips / plain[precision],
            }
        )
    fp32, bf16 = rows[0]["images_per_s"], rows[1]["images_per_s"]
    rows.append(
        {
            "config": "precision effect: bf16 / fp32 (letterbox)",
            "images_per_s": bf16 / fp32,
            "plain_loop_images_per_s": plain["bf16"] / plain["fp32"],
            "vs_plain_loop_same_precision": float("nan"),
        }
    )
    out = result(
        "classify_throughput",
        "images/s (fp32 letterbox)",
        fp32,
        "plain open_clip loop (fp32, one image at a time)",
        plain["fp32"],
        images=len(files),
        model="ViT-B-32 random weights",
        precision="fp32 both sides (headline); bf16 rows below",
        batch_size=32,
        bf16_over_fp32_ours=bf16 / fp32,
        bf16_over_fp32_plain_loop=plain["bf16"] / plain["fp32"],
    )
    out["table"] = rows
    out["notes"] = (
        "Headline: same precision (fp32) on both sides. Each row compares with the plain loop in the row's "
        "precision; the last row is the precision effect alone (ratios, not images/s). tiles = 1 global + "
        "8 tiles per 16:9 screen. The CPU default (precision auto) is bf16 where the CPU has avx512_bf16 or "
        "AMX: see machine.cpu_flags and the precision row for whether that pays off here."
    )
    return out
