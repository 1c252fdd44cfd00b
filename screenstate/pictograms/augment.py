"""Batched augmentation: a 48 px RGBA icon becomes a 32 px RGB crop as a screen would show it.

Each step of training draws icons from the bank and, on the whole batch at once (torch):
recolours single-colour icons, composites them on light, dark or random backgrounds (some
with a vertical gradient, as dialog bodies have), jitters scale and position (a detector's
box is tight or loose), shows them at a random screen size of 12-48 px (area-downscale,
then bilinear up to the input size), blurs some, adds text beside some ("nearby text"),
adds noise, and passes some through JPEG. A share of each batch is *not* an icon (text
fragments, rules, boxes, flat or gradient patches): the "none" target.

    >>> import torch
    >>> bank = torch.zeros(4, 48, 48, 4, dtype=torch.uint8); bank[:, 10:38, 10:38] = 255
    >>> aug = Augmenter(bank, seed=0)
    >>> x, is_icon = aug.batch(torch.tensor([0, 1, 2, 3]), none_share=0.5)
    >>> tuple(x.shape), x.dtype, int(is_icon.sum())
    ((4, 3, 32, 32), torch.float32, 2)
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

INPUT = 32
_WORDS = "OK Cancel Yes No File Save Open Error Warning Name Password Retry Help Close Apply Next Back 42 % Done Copy Delete Search Settings about the of and to is".split()
_FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "LiberationSans-Regular.ttf"]


def _font(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(name, size)
    except OSError:
        return ImageFont.load_default()


def text_masks(n: int, rng: np.random.Generator) -> torch.Tensor:
    """[n, 64, 64] float masks of text: words at 9-18 px, some at the edge, some centred."""
    out = np.zeros((n, 64, 64), np.float32)
    for i in range(n):
        img = Image.new("L", (64, 64), 0)
        d = ImageDraw.Draw(img)
        font = _font(_FONTS[int(rng.integers(len(_FONTS)))], int(rng.integers(9, 19)))
        text = " ".join(rng.choice(_WORDS, size=int(rng.integers(1, 4))))
        d.text((int(rng.integers(-40, 40)), int(rng.integers(0, 50))), text, fill=255, font=font)
        out[i] = np.asarray(img, np.float32) / 255.0
    return torch.from_numpy(out)


class Augmenter:
    """Turns bank rows into training crops (see the module docstring); seeded."""

    def __init__(self, bank: torch.Tensor, seed: int = 0, n_text: int = 512) -> None:
        self.bank = bank  # [N, 48, 48, 4] uint8 RGBA
        self.gen = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        rgb = bank[..., :3].float()
        alpha = bank[..., 3].float() / 255.0
        w = alpha.sum((1, 2)).clamp(min=1)
        mean = (rgb * alpha[..., None]).sum((1, 2)) / w[:, None]
        var = (((rgb - mean[:, None, None]) ** 2).mean(-1) * alpha).sum((1, 2)) / w
        self.mono = var.sqrt() < 24  # one colour: may be drawn in any colour
        self.texts = text_masks(n_text, self.rng)

    def _rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.gen)

    def _colours(self, n: int) -> torch.Tensor:
        """[n, 3] in 0..1: dark, light or saturated."""
        kind = self._rand(n)
        base = self._rand(n, 3)
        dark = base * 0.3
        light = 0.75 + base * 0.25
        return torch.where((kind < 0.4)[:, None], dark, torch.where((kind < 0.7)[:, None], light, base))

    def _backgrounds(self, n: int, size: int) -> torch.Tensor:
        """[n, 3, size, size]: light (45 %), dark (30 %), any colour, some with a gradient."""
        kind = self._rand(n)
        base = self._rand(n, 3)
        grey = self._rand(n, 1)
        light = 0.82 + 0.18 * (0.7 * grey + 0.3 * base)
        dark = 0.25 * (0.7 * grey + 0.3 * base)
        col = torch.where((kind < 0.45)[:, None], light, torch.where((kind < 0.75)[:, None], dark, base))
        ramp = torch.linspace(-1, 1, size)[None, :, None] * (self._rand(n) < 0.3).float()[:, None, None] * 0.08
        return (col[:, :, None, None] + ramp[:, None]).clamp(0, 1).expand(n, 3, size, size).clone()

    def _place(self, rgba: torch.Tensor) -> torch.Tensor:
        """Random scale (0.7-1.15 of the crop) and shift (+-12 %) of RGBA [n, 4, S, S]."""
        n = rgba.shape[0]
        scale = 1.0 / (0.7 + 0.45 * self._rand(n))
        shift = (self._rand(n, 2) - 0.5) * 0.24
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = scale
        theta[:, 1, 1] = scale
        theta[:, :, 2] = shift
        grid = F.affine_grid(theta, list(rgba.shape), align_corners=False)
        return F.grid_sample(rgba, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def _not_icons(self, n: int, size: int) -> torch.Tensor:
        """RGBA [n, 4, size, size] of things a detector finds that are not icons."""
        rgba = torch.zeros(n, 4, size, size)
        kind = self._rand(n)
        idx = torch.randint(len(self.texts), (n,), generator=self.gen)
        text = F.interpolate(self.texts[idx][:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]
        ys = torch.arange(size)[None, :, None].float()
        xs = torch.arange(size)[None, None, :].float()
        a, b = (self._rand(n, 1, 1) * size * 0.8), (self._rand(n, 1, 1) * size * 0.8)
        frame = (((ys - a).abs() < 1.5) | ((xs - b).abs() < 1.5)).float()  # rules and box corners
        rect = ((ys > a) & (xs > b) & (ys < a + size * 0.5) & (xs < b + size * 0.5)).float()
        shape = torch.where(kind[:, None, None] < 0.75, frame, rect)
        rgba[:, 3] = torch.where(kind[:, None, None] < 0.5, text, shape)
        rgba[:, :3] = self._colours(n)[:, :, None, None]
        return rgba

    def batch(self, idx: torch.Tensor, none_share: float = 0.12) -> tuple[torch.Tensor, torch.Tensor]:
        """Crops [n, 3, 32, 32] in 0..1 for bank rows ``idx`` and which of them are icons
        (the others, a ``none_share`` of the batch, are not-icon crops)."""
        n = idx.shape[0]
        rgba = self.bank[idx].permute(0, 3, 1, 2).float() / 255.0
        recolour = self.mono[idx] & (self._rand(n) < 0.8)
        col = self._colours(n)[:, :, None, None].expand(n, 3, 48, 48)
        rgba[:, :3] = torch.where(recolour[:, None, None, None], col, rgba[:, :3])
        rgba = self._place(rgba)
        is_icon = torch.ones(n, dtype=torch.bool)
        n_none = int(round(n * none_share))
        if n_none:
            rgba[:n_none] = self._not_icons(n_none, 48)
            is_icon[:n_none] = False
        # nearby text: a word from the bank drawn over a quarter of the crops, often near an edge
        near = (self._rand(n) < 0.25) & is_icon
        if bool(near.any()):
            k = int(near.sum())
            t = self.texts[torch.randint(len(self.texts), (k,), generator=self.gen)]
            t = F.interpolate(t[:, None], size=(48, 48), mode="bilinear", align_corners=False)[:, 0]
            a = rgba[near, 3]
            keep = (a < 0.05).float() * t  # text only where the icon is not drawn
            rgba[near, :3] = torch.where(keep[:, None] > 0.3, self._colours(k)[:, :, None, None], rgba[near, :3])
            rgba[near, 3] = torch.maximum(a, keep)
        bg = self._backgrounds(n, 48)
        alpha = rgba[:, 3:4]
        img = alpha * rgba[:, :3] + (1 - alpha) * bg
        # shown at a screen size of 12-48 px, then scaled to the input like a detector's crop
        out = torch.empty(n, 3, INPUT, INPUT)
        sizes = torch.randint(12, 49, (4,), generator=self.gen).tolist()
        for part, s in zip(torch.arange(n).chunk(4), sizes):
            small = F.interpolate(img[part], size=(s, s), mode="area")
            out[part] = F.interpolate(small, size=(INPUT, INPUT), mode="bilinear", align_corners=False, antialias=s > INPUT)
        blur = self._rand(n) < 0.15
        if bool(blur.any()):
            tap = torch.tensor([0.25, 0.5, 0.25])
            kern = (tap[:, None] * tap[None, :]).expand(3, 1, 3, 3)
            out[blur] = F.conv2d(F.pad(out[blur], (1, 1, 1, 1), mode="replicate"), kern, groups=3)
        out = (out + 0.02 * self._rand(n, 1, 1, 1) * torch.randn(out.shape, generator=self.gen)).clamp(0, 1)
        for i in torch.nonzero(self._rand(n) < 0.2).flatten().tolist():  # JPEG artefacts
            u8 = (out[i].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
            ok, enc = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, int(self.rng.integers(30, 90))])
            dec = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED) if ok else None
            if dec is not None:
                out[i] = torch.from_numpy(dec.astype(np.float32) / 255.0).permute(2, 0, 1)
        return out, is_icon
