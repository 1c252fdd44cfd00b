"""Where the tests find screens-dev, defined once (imported by conftest.py and the tests that
read it, like tests/drawn.py): ``$SCREENSTATE_DEV`` (what the benchmarks read), else
``shared/datasets/screens-dev`` beside the checkout (``../shared``, as CI lays it out) or
inside it (``shared/``)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = [ROOT.parent / "shared" / "datasets" / "screens-dev", ROOT / "shared" / "datasets" / "screens-dev"]
if os.environ.get("SCREENSTATE_DEV"):
    CANDIDATES.insert(0, Path(os.environ["SCREENSTATE_DEV"]))
#: the dev set, or the first place looked at when there is none
SCREENS_DEV = next((p for p in CANDIDATES if p.is_dir()), CANDIDATES[0])
MISSING = f"screens-dev not found (looked in: {', '.join(map(str, CANDIDATES))}; set SCREENSTATE_DEV)"
