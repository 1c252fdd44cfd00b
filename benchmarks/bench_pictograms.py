"""pictogram_latency: what reading pictograms adds to the text channel per 1920x1080 dev
screen (p50 over 20): the text channel cold without pictograms (baseline) and with them,
in the same run, and the pictogram steps alone (candidate finder; finder + ONNX encoder +
naming, one batch per screen)."""

from __future__ import annotations

from common import dev_files, latencies, p, timed
from PIL import Image
from run import result


def run(quick: bool) -> dict:
    from screenstate.embeddings.text import TextChannel, TextOptions
    from screenstate.pictograms.candidates import find_candidates
    from screenstate.pictograms.reader import PictogramReader
    from screenstate.screen.foreground import find_foreground

    all_files = dev_files(size=(1920, 1080))
    files = all_files[: 8 if quick else 20]
    images = [Image.open(f).convert("RGB") for f in files]
    spare = [Image.open(f).convert("RGB") for f in all_files[-2:]]
    plain, icons = TextChannel(), TextChannel(TextOptions(pictograms=True))
    for ch in (plain, icons):
        ch.encode(spare)  # model loads, first shapes
    # OCR lines and windows once, for the pictogram-only timings
    lines = {id(im): plain.read_lines(im) for im in images}
    windows = {id(im): find_foreground(im) for im in images}
    reader = PictogramReader()
    reader.read(spare[0], [], None)
    rows = []
    base, with_icons = [], []
    for im in images:  # interleaved, so load changes hit both alike
        base.append(timed(lambda im=im: plain.encode([im])))
        with_icons.append(timed(lambda im=im: icons.encode([im])))
    cand = latencies(lambda im: find_candidates(im, [ln.box for ln in lines[id(im)]], windows[id(im)]), images)
    read = latencies(lambda im: reader.read(im, lines[id(im)], windows[id(im)]), images)
    n_cands = [len(find_candidates(im, [ln.box for ln in lines[id(im)]], windows[id(im)])) for im in images]
    n_icons = [len(reader.read(im, lines[id(im)], windows[id(im)])) for im in images]
    for label, lat in (
        ("text channel, OCR + foreground + embed (baseline)", base),
        ("text channel with pictograms", with_icons),
        ("pictogram candidates only", cand),
        ("pictograms only (candidates + ONNX encoder + naming)", read),
    ):
        rows.append({"config": label, "p50_ms": 1000 * p(lat, 50), "p95_ms": 1000 * p(lat, 95)})
    out = result(
        "pictogram_latency",
        "ms (p50, text channel with pictograms, 1920x1080)",
        1000 * p(with_icons, 50),
        "text channel without pictograms",
        1000 * p(base, 50),
        higher_is_better=False,
        images=len(files),
        candidates_p50_ms=1000 * p(cand, 50),
        pictograms_p50_ms=1000 * p(read, 50),
        candidates_per_screen_mean=sum(n_cands) / len(n_cands),
        icon_lines_per_screen_mean=sum(n_icons) / len(n_icons),
    )
    out["table"] = rows
    return out
