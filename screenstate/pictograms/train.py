"""Train the pictogram encoder on the icon bank, evaluate on held-out icon sets, export ONNX.

    python -m screenstate.pictograms.train BANK_DIR OUT_DIR [--steps N] [--seed S]

The network (:mod:`model`) maps augmented icon crops (:mod:`augment`) into the sentence
space of the text channel's model (all-MiniLM-L6-v2). Targets are the embeddings of the
training icons' names (about three thousand sentences) plus one learned "none" vector for
crops that are not icons. The loss is cross-entropy over those targets with soft labels:
the target distribution of an icon named ``alert triangle`` spreads over names whose
sentence embeddings are close to it (``warning``, ``triangle exclamation``), so synonyms
from different sets are not pushed apart.

Whole icon sets (:data:`HOLDOUT`) are kept out of training and only measured: name
retrieval within each set (R@1, R@5 over that set's own names, none of which need be in
the training vocabulary) and concept accuracy (the top training name's concept, e.g.
warning / question / lock, against the icon's). Fixed seeds: torch, numpy, the data order
and augmentation all derive from ``--seed``; on the same machine and library versions a
rerun gives the same weights.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from screenstate.pictograms.augment import INPUT, Augmenter
from screenstate.pictograms.dataset import licence_list
from screenstate.pictograms.model import PictogramNet
from screenstate.pictograms.vocab import CONCEPTS, concept_of

#: icon sets never trained on (three iconify styles and one desktop theme)
HOLDOUT = ("tabler", "carbon", "twemoji", "Adwaita")
#: temperature of the logits and of the soft targets
TAU = 0.05
SOFT_TAU = 0.03


def load_bank(bank_dir: Path) -> tuple[torch.Tensor, list[str], list[tuple[str, ...]]]:
    z = np.load(bank_dir / "bank.npz")
    names = [tuple(s.split("|")) for s in z["names"].tolist()]
    return torch.from_numpy(z["images"]), z["source"].tolist(), names


def embed(sentences: list[str], cache_dir: Path | None = None) -> torch.Tensor:
    """Sentence embeddings of icon names (all-MiniLM-L6-v2), stored in ``cache_dir`` by a
    digest of the list: on two busy cores 8,000 names take minutes."""
    import hashlib

    from screenstate.embeddings.sentence import SentenceEncoder

    key = hashlib.sha256("\n".join(sentences).encode("utf-8")).hexdigest()[:16]
    path = cache_dir / f"names-{key}.npy" if cache_dir is not None else None
    if path is not None and path.is_file():
        return torch.from_numpy(np.load(path))
    emb = SentenceEncoder().encode(sentences)
    if path is not None:
        np.save(path, emb)
    return torch.from_numpy(emb)


def train(
    bank: torch.Tensor,
    sources: list[str],
    names: list[tuple[str, ...]],
    steps: int,
    seed: int = 0,
    batch: int = 256,
    lr: float = 3e-3,
    holdout: tuple[str, ...] = HOLDOUT,
    embed_fn=embed,
    log_every: int = 25,
) -> tuple[PictogramNet, dict, list[str], torch.Tensor, torch.Tensor]:
    """Returns the net, metrics, the label sentences, their embeddings and the none vector."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    is_held = np.array([s in holdout for s in sources])
    train_idx = np.nonzero(~is_held)[0]
    labels = sorted({n for i in train_idx for n in names[i]})
    lid = {n: k for k, n in enumerate(labels)}
    targets = {int(i): [lid[n] for n in names[i]] for i in train_idx}
    lab_emb = embed_fn(labels)  # [L, D]
    dim = lab_emb.shape[1]
    soft = F.softmax(lab_emb @ lab_emb.T / SOFT_TAU, dim=1)  # [L, L] target spread over synonyms
    net = PictogramNet(dim=dim)
    none_vec = torch.nn.Parameter(F.normalize(torch.randn(1, dim), dim=1))
    params = [*net.parameters(), none_vec]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    aug = Augmenter(bank, seed=seed)
    t0 = time.time()
    losses = []
    for step in range(steps):
        idx = torch.from_numpy(rng.choice(train_idx, size=batch))
        x, is_icon = aug.batch(idx)
        y = torch.tensor([targets[int(i)][int(rng.integers(len(targets[int(i)])))] for i in idx])
        q = torch.zeros(batch, len(labels) + 1)
        q[is_icon, :-1] = soft[y[is_icon]]
        q[~is_icon, -1] = 1.0
        protos = torch.cat([lab_emb, F.normalize(none_vec, dim=1)])
        logits = net(x) @ protos.T / TAU
        loss = -(q * F.log_softmax(logits, dim=1)).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss))
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"step {step} loss {np.mean(losses[-log_every:]):.3f} {time.time() - t0:.0f}s", flush=True)
    net.eval()
    none = F.normalize(none_vec.detach(), dim=1)[0]
    metrics = evaluate(net, bank, sources, names, labels, lab_emb, none, holdout, seed, embed_fn)
    metrics["train"] = {
        "steps": steps,
        "batch": batch,
        "seed": seed,
        "seconds": round(time.time() - t0, 1),
        "first_loss": round(float(np.mean(losses[:10])), 4),
        "final_loss": round(float(np.mean(losses[-50:])), 4),
        "train_icons": int(len(train_idx)),
        "labels": len(labels),
    }
    return net, metrics, labels, lab_emb, none


@torch.no_grad()
def evaluate(
    net: PictogramNet,
    bank: torch.Tensor,
    sources: list[str],
    names: list[tuple[str, ...]],
    labels: list[str],
    lab_emb: torch.Tensor,
    none: torch.Tensor,
    holdout: tuple[str, ...],
    seed: int,
    embed_fn=embed,
) -> dict:
    """Held-out icon-set metrics on augmented crops (fixed seed, not the training one)."""
    aug = Augmenter(bank, seed=seed + 1000)
    out: dict = {"holdout_sets": {}}
    protos = torch.cat([lab_emb, none[None]])
    for s in holdout:
        idx = torch.tensor([i for i, src in enumerate(sources) if src == s])
        if len(idx) == 0:
            continue
        emb = torch.cat([net(aug.batch(part, none_share=0.0)[0]) for part in idx.split(256)])
        own = sorted({n for i in idx.tolist() for n in names[i]})
        own_emb = embed_fn(own)
        rank = (emb @ own_emb.T).argsort(1, descending=True)[:, :5]
        oid = {n: k for k, n in enumerate(own)}
        hit1 = hit5 = 0
        for r, i in zip(rank.tolist(), idx.tolist()):
            truth = {oid[n] for n in names[i]}
            hit1 += r[0] in truth
            hit5 += bool(truth & set(r))
        probs = F.softmax(emb @ protos.T / TAU, dim=1)
        top = probs[:, :-1].argmax(1).tolist()
        per: dict[str, list[int]] = {}
        for t, i in zip(top, idx.tolist()):
            c = concept_of(names[i])
            if c is not None:
                per.setdefault(c, []).append(int(concept_of([labels[t]]) == c))
        n = len(idx)
        out["holdout_sets"][s] = {
            "icons": n,
            "names": len(own),
            "retrieval_r1": round(hit1 / n, 4),
            "retrieval_r5": round(hit5 / n, 4),
            "called_icon": round(float((probs[:, -1] < 0.5).float().mean()), 4),
            "concept_accuracy": {c: [round(sum(v) / len(v), 4), len(v)] for c, v in sorted(per.items())},
        }
    # not-icon crops: how many the "none" target rejects
    fake = torch.arange(min(1024, len(sources)))
    x, _ = aug.batch(fake, none_share=1.0)
    p = F.softmax(net(x) @ protos.T / TAU, dim=1)[:, -1]
    out["not_icons_rejected"] = round(float((p >= 0.5).float().mean()), 4)
    allc: list[int] = []
    for s in out["holdout_sets"].values():
        for acc, k in s["concept_accuracy"].values():
            allc += [1] * round(acc * k) + [0] * (k - round(acc * k))
    out["holdout_concept_accuracy"] = round(sum(allc) / max(1, len(allc)), 4)
    out["concepts"] = {k: sorted(v) for k, v in CONCEPTS.items()}
    return out


def export(net: PictogramNet, labels: list[str], lab_emb: torch.Tensor, none: torch.Tensor, out: Path) -> None:
    """``pictograms.onnx`` (crops [N,3,32,32] -> [N,D]) and ``labels.npz`` (names, fp16 embeddings, none)."""
    out.mkdir(parents=True, exist_ok=True)
    net.eval()
    torch.onnx.export(
        net,
        (torch.rand(1, 3, INPUT, INPUT),),
        str(out / "pictograms.onnx"),
        input_names=["crops"],
        output_names=["embeddings"],
        dynamic_axes={"crops": {0: "n"}, "embeddings": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    np.savez_compressed(
        out / "labels.npz",
        labels=np.array(labels),
        embeddings=lab_emb.numpy().astype(np.float16),
        none=none.numpy().astype(np.float32),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bank", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(2)
    bank, sources, names = load_bank(a.bank)
    net, metrics, labels, lab_emb, none = train(
        bank, sources, names, a.steps, a.seed, batch=a.batch, embed_fn=functools.partial(embed, cache_dir=a.bank)
    )
    export(net, labels, lab_emb, none, a.out)
    torch.save(net.state_dict(), a.out / "pictograms.pt")
    manifest = json.loads((a.bank / "manifest.json").read_text())
    metrics["holdout"] = list(HOLDOUT)
    (a.out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    (a.out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    (a.out / "LICENSES.md").write_text(licence_list(manifest, HOLDOUT))
    print(json.dumps({k: v for k, v in metrics.items() if k != "concepts"}, indent=1))


if __name__ == "__main__":
    main()
