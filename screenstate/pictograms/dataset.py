"""Build the pictogram training bank: icons rendered to 48 px RGBA, with names and licences.

Sources, both reachable offline through ordinary package clients:

- the npm package ``@iconify/json`` (``npm install @iconify/json``): icon sets whose licence
  is in :data:`~screenstate.pictograms.vocab.PERMISSIVE`, UI, Material and emoji categories;
- Debian icon themes named by the freedesktop Icon Naming Specification
  (``apt-get install adwaita-icon-theme breeze-icon-theme ...``), under /usr/share/icons.

Toolkits' own built-in icons (Tk, Java Swing, Qt, GTK's resources) are never read: they are
what the held-out dialog screens show. Only icons whose cleaned name holds a keyword are
kept (:func:`~screenstate.pictograms.vocab.is_wanted`), at most ``per_set`` per set, chosen
by a seeded shuffle. Each icon is cropped to its drawn pixels and centred on a 48x48
transparent square. Needs ``cairosvg`` (``pip install cairosvg``), a training-only
dependency. The bank is not committed; the manifest (sets, licences, counts) is.
"""

from __future__ import annotations

import io
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image

from screenstate.pictograms.vocab import PERMISSIVE, clean_name, is_core, is_wanted

SIZE = 48
#: iconify categories searched (UI sets, Material, emoji: the styles screens show)
CATEGORIES = ("UI", "Material", "Emoji", "High Detail Multicolor")
#: Debian themes (directory under /usr/share/icons, Debian package, licence as its copyright file says)
THEMES = {
    "Adwaita": ("adwaita-icon-theme 43", "CC-BY-SA-3.0 / LGPL-3.0"),
    "breeze": ("breeze-icon-theme 5.103", "LGPL-3.0"),
    "oxygen": ("oxygen-icon-theme 5.103", "LGPL-3.0"),
    "Tango": ("tango-icon-theme 0.8.90", "public domain"),
    "Papirus": ("papirus-icon-theme 20230104", "GPL-3.0"),
    "elementary": ("elementary-icon-theme 7.2", "GPL-3.0"),
    "gnome": ("gnome-icon-theme 3.12", "CC-BY-SA-3.0 / GPL-3.0"),
}
THEME_CONTEXTS = {"actions", "status", "places", "mimetypes", "devices", "emblems", "categories", "legacy"}


@dataclass(frozen=True)
class IconJob:
    """One icon to render: an SVG text or an image file, and its names (sentences)."""

    source: str  # icon set prefix or theme name
    names: tuple[str, ...]
    svg: str | None = None
    path: str | None = None


def _square(img: Image.Image) -> np.ndarray | None:
    """Crop RGBA to its opaque pixels and centre it on a SIZE x SIZE transparent square."""
    img = img.convert("RGBA")
    box = img.getchannel("A").point(lambda a: 255 if a > 24 else 0).getbbox()
    if box is None:
        return None
    img = img.crop(box)
    scale = (SIZE - 4) / max(img.size)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.LANCZOS)
    out = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    out.paste(img, ((SIZE - img.width) // 2, (SIZE - img.height) // 2))
    return np.asarray(out, dtype=np.uint8)


def render(job: IconJob) -> np.ndarray | None:
    """RGBA [48, 48, 4] uint8, or None if it cannot be drawn."""
    import cairosvg

    try:
        if job.svg is not None:
            png = cairosvg.svg2png(bytestring=job.svg.encode("utf-8"), output_width=96, output_height=96)
            return _square(Image.open(io.BytesIO(png)))
        assert job.path is not None
        if job.path.endswith(".svg"):
            png = cairosvg.svg2png(url=job.path, output_width=96, output_height=96)
            return _square(Image.open(io.BytesIO(png)))
        return _square(Image.open(job.path))
    except Exception:  # a broken SVG in a third-party set is skipped, and counted in the manifest
        return None


def iconify_jobs(root: Path, per_set: int, seed: int) -> tuple[list[IconJob], dict[str, dict]]:
    """Jobs and per-set manifest entries from an ``@iconify/json`` install."""
    collections = json.loads((root / "collections.json").read_text())
    jobs: list[IconJob] = []
    sets: dict[str, dict] = {}
    for prefix in sorted(collections):
        info = collections[prefix]
        spdx = info.get("license", {}).get("spdx")
        cat = info.get("category") or ""
        if spdx not in PERMISSIVE or not cat.startswith(CATEGORIES) or "flag" in prefix:
            continue
        data = json.loads((root / "json" / f"{prefix}.json").read_text())
        width, height = data.get("width", 16), data.get("height", 16)
        names: dict[str, list[str]] = {}
        for alias, a in (data.get("aliases") or {}).items():
            names.setdefault(a.get("parent", ""), []).append(clean_name(alias))
        picked = []
        for name in sorted(data["icons"]):
            sentences = [clean_name(name), *names.get(name, [])]
            sentences = list(dict.fromkeys(s for s in sentences if s and is_wanted(s)))
            if sentences:
                picked.append((name, sentences))
        random.Random(f"{seed}:{prefix}").shuffle(picked)
        picked.sort(key=lambda p: not is_core(p[1][0]))  # stable: state icons first, then the shuffle
        for name, sentences in picked[:per_set]:
            icon = data["icons"][name]
            w, h = icon.get("width", width), icon.get("height", height)
            left, top = icon.get("left", 0), icon.get("top", 0)
            body = icon["body"].replace("currentColor", "#000000")
            svg = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{left} {top} {w} {h}">{body}</svg>'
            jobs.append(IconJob(prefix, tuple(sentences), svg=svg))
        if picked:
            sets[prefix] = {
                "kind": "iconify",
                "name": info.get("name"),
                "author": info.get("author", {}).get("name"),
                "url": info.get("author", {}).get("url"),
                "license": spdx,
                "license_url": info.get("license", {}).get("url"),
                "category": cat,
                "available": len(picked),
            }
    return jobs, sets


_SIZE_DIR = re.compile(r"^(\d+)x\d+$")


def _size_rank(path: Path) -> int:
    """Prefer 48 px files, then 64, 32, scalable; smaller is better."""
    for part in path.parts:
        m = _SIZE_DIR.match(part)
        if m:
            return abs(int(m.group(1)) - 48)
        if part.startswith("scalable"):
            return 20
    return 99


def theme_jobs(themes: Iterable[str], per_set: int, seed: int, root: Path = Path("/usr/share/icons")) -> tuple[list[IconJob], dict[str, dict]]:
    """Jobs and manifest entries from installed freedesktop icon themes."""
    jobs: list[IconJob] = []
    sets: dict[str, dict] = {}
    for theme in themes:
        if not (root / theme).is_dir():
            continue
        best: dict[str, Path] = {}
        for f in sorted((root / theme).rglob("*")):
            if f.suffix not in (".svg", ".png") or not (set(f.parts) & THEME_CONTEXTS) or not f.exists():
                continue
            name = clean_name(f.name.split(".")[0])
            if not name or not is_wanted(name):
                continue
            if name not in best or _size_rank(f) < _size_rank(best[name]):
                best[name] = f
        by_file: dict[str, list[str]] = {}
        for name, f in sorted(best.items()):
            by_file.setdefault(str(f.resolve()), []).append(name)
        picked = sorted(by_file.items())
        random.Random(f"{seed}:{theme}").shuffle(picked)
        picked.sort(key=lambda p: not is_core(p[1][0]))
        jobs += [IconJob(theme, tuple(names), path=p) for p, names in picked[:per_set]]
        package, lic = THEMES[theme]
        sets[theme] = {"kind": "debian-theme", "name": theme, "package": package, "license": lic, "available": len(picked)}
    return jobs, sets


def build(iconify_root: Path, out: Path, per_set: int = 150, seed: int = 0, processes: int = 2) -> dict:
    """Render every job into ``out/bank.npz`` and write ``out/manifest.json``; returns the manifest."""
    jobs, sets = iconify_jobs(iconify_root, per_set, seed)
    tjobs, tsets = theme_jobs(THEMES, per_set * 2, seed)
    jobs += tjobs
    sets.update(tsets)
    with Pool(processes) as pool:
        images = pool.map(render, jobs, chunksize=64)
    kept = [(j, im) for j, im in zip(jobs, images) if im is not None]
    for s in sets.values():
        s["rendered"] = 0
    for j, _ in kept:
        sets[j.source]["rendered"] += 1
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out / "bank.npz",
        images=np.stack([im for _, im in kept]),
        source=np.array([j.source for j, _ in kept]),
        names=np.array(["|".join(j.names) for j, _ in kept]),
    )
    version = json.loads((iconify_root / "package.json").read_text()).get("version")
    manifest = {
        "iconify_json_version": version,
        "seed": seed,
        "per_set": per_set,
        "icons": len(kept),
        "failed": len(jobs) - len(kept),
        "sets": sets,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def licence_list(manifest: dict, holdout: tuple[str, ...]) -> str:
    """Markdown attribution table of every set in ``manifest`` (CC-BY needs author and licence)."""
    rows = [
        "# Icon sets behind the pictogram encoder",
        "",
        "The weights were trained on renderings of these icons (none is redistributed here).",
        "Sets marked *held out* were only used to measure the encoder, never to train it.",
        "",
        "| set | name | author | licence | source | icons used |",
        "|---|---|---|---|---|---|",
    ]
    for key, m in sorted(manifest["sets"].items()):
        author = m.get("author") or ""
        if m.get("url"):
            author = f"[{author}]({m['url']})"
        source = m.get("package") or "npm @iconify/json"
        lic = m["license"] if not m.get("license_url") else f"[{m['license']}]({m['license_url']})"
        used = f"{m['rendered']}" + (" (held out)" if key in holdout else "")
        rows.append(f"| {key} | {m.get('name') or key} | {author} | {lic} | {source} | {used} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # python -m screenstate.pictograms.dataset ICONIFY_JSON_DIR OUT_DIR
    import sys

    m = build(Path(sys.argv[1]), Path(sys.argv[2]), per_set=150)
    print(json.dumps({k: v for k, v in m.items() if k != "sets"}), len(m["sets"]), "sets")
