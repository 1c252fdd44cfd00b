"""pins_reach: what a pin (a corrected frame, ``screenstate/classifier/pins.py``) fixes in
the rest of its recording, and whether it ever fixes a frame wrongly.

For every labelled recording (the bundled example, screens-dev's recording and each
session of ``benchmarks/heldout/recordings/``), every frame is pinned in turn to its label;
reported per recording: how many *other* frames each pin covers (its near-duplicates), how
many of those carry another label (``wrong``: the goal is 0, as a pin would make them
wrong), and the tile counts behind ``PIN_NOISE`` / ``PIN_TILES``: changed tiles between
consecutive frames of one state (median, max) and the fewest between two frames of
different states. Headline: wrong near-duplicates over all recordings (lower is better).
Pixels only: no model is loaded.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image
from run import DEV, HERE, ROOT, result

from screenstate.classifier.pins import PIN_NOISE, PIN_TILES, changed_tiles, tile_means


def _recordings() -> dict[str, Path]:
    out = {"example": ROOT / "examples" / "recording", "screens-dev": DEV / "recording"}
    for d in sorted((HERE / "heldout" / "recordings").glob("*/session_*")):
        if (d / "labels.csv").is_file():
            out[f"{d.parent.name}/{d.name}"] = d
    return out


def run(quick: bool) -> dict:
    rows, wrong_all, covered_all = [], 0, 0
    for name, root in _recordings().items():
        with (root / "labels.csv").open() as fh:
            labelled = [(root / r["frame"], r["state"]) for r in csv.DictReader(fh)]
        tiles = [tile_means(np.asarray(Image.open(p).convert("RGB"))) for p, _ in labelled]
        labels = [lab for _, lab in labelled]
        n = len(tiles)
        counts = np.array([[changed_tiles(tiles[i], tiles[j]) for j in range(n)] for i in range(n)])
        covered, wrong = [], 0
        for i in range(n):
            hit = counts[i] <= PIN_TILES  # what Pins.match finds with this one pin
            hit[i] = False
            covered.append(int(hit.sum()))
            wrong += int(sum(hit[j] and labels[j] != labels[i] for j in range(n)))
        same = [int(counts[i, i + 1]) for i in range(n - 1) if labels[i] == labels[i + 1]]
        diff = [int(counts[i, j]) for i in range(n) for j in range(n) if labels[i] != labels[j]]
        rows.append(
            {
                "recording": name,
                "frames": n,
                "near_duplicates_per_pin_mean": round(float(np.mean(covered)), 2),
                "frames_fixed_with_the_pinned_one_max": max(covered) + 1,
                "wrong_near_duplicates": wrong,
                "same_state_neighbours_tiles_median": int(np.median(same)) if same else None,
                "same_state_neighbours_tiles_max": max(same) if same else None,
                "different_states_tiles_min": min(diff) if diff else None,
            }
        )
        wrong_all += wrong
        covered_all += sum(covered)
    out = result(
        "pins_reach",
        "frames a pin would make wrong (near-duplicates with another label), all recordings",
        wrong_all,
        higher_is_better=False,
        pin_noise=PIN_NOISE,
        pin_tiles=PIN_TILES,
        near_duplicates_covered=covered_all,
        dataset="every labelled recording: examples/recording, screens-dev recording, heldout recordings' sessions",
    )
    out["table"] = rows
    out["notes"] = (
        "Each frame pinned to its own label in turn. wrong_near_duplicates: frames of another label it would "
        "cover (0 = a pin never fixes a frame wrongly); different_states_tiles_min against PIN_TILES shows the "
        "margin. PIN_NOISE and PIN_TILES were chosen on the example, screens-dev and qt-featherpad "
        "(docs/CONSTANTS.md); tk-xedit and gtk-mousepad were looked at afterwards."
    )
    return out
