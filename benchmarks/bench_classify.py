"""classify_throughput: images/s of ScreenClassifier.classify_batch (ViT-B-32, random
weights) in fp32 and bf16, and the cost of each view mode, against a plain open_clip
loop (load, preprocess, encode one image at a time) in the same run."""

from __future__ import annotations

import json

import torch
from common import DEV, dev_files, timed
from PIL import Image
from run import result


def plain_open_clip_loop(files, texts) -> float:
    import open_clip

    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    model.eval()
    tok = open_clip.get_tokenizer("ViT-B-32")
    with torch.no_grad():
        tf = torch.nn.functional.normalize(model.encode_text(tok(texts)), dim=-1)

        def loop():
            for f in files:
                x = preprocess(Image.open(f)).unsqueeze(0)
                feat = torch.nn.functional.normalize(model.encode_image(x), dim=-1)
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
    base = plain_open_clip_loop(files, texts)
    rows = []
    for precision, views in (("fp32", "letterbox"), ("bf16", "letterbox"), ("bf16", "squash"), ("bf16", "tiles")):
        ips = ours(files, precision, views)
        rows.append({"config": f"{precision} {views}", "images_per_s": ips, "vs_plain_loop": ips / base})
    best = rows[1]["images_per_s"]
    out = result(
        "classify_throughput",
        "images/s",
        best,
        "plain open_clip loop (fp32, one image at a time)",
        base,
        images=len(files),
        model="ViT-B-32 random weights",
        batch_size=32,
    )
    out["table"] = rows
    out["notes"] = "value = bf16 letterbox (the CPU default); tiles = 1 global + 8 tiles per 16:9 screen."
    return out
