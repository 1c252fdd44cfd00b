"""One loader for every image input, content hashes, and the model-side views of a screen.

``load_image`` accepts a path, bytes, a PIL image or a numpy array and returns an RGB
PIL image, refusing empty, corrupt, truncated, non-image and oversized input with an
:class:`~screenstate.errors.InvalidImageError` that says what it got.

Views (``squash``, ``letterbox``, ``tiles``) turn a wide screenshot into square model
inputs. ``squash`` is the reference server's (distorts, shrinks text); ``letterbox``
keeps the aspect ratio; ``tiles`` adds a grid of crops to a letterboxed global view so
small text survives.
"""

from __future__ import annotations

import errno
import io
import math
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from screenstate.embeddings.defaults import DEFAULT_MAX_PIXELS
from screenstate.embeddings.features import ScreenPrepared
from screenstate.errors import InvalidImageError, UnknownNameError

ImageInput = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray]


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() or 1.0
        return Image.fromarray((arr * (255.0 / hi)).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


def _check_size(size: tuple[int, int], max_pixels: int, what: str) -> None:
    w, h = size
    if w <= 0 or h <= 0:
        raise InvalidImageError(f"{what}: image has zero size {w}x{h}")
    if w * h > max_pixels:
        raise InvalidImageError(
            f"{what}: image is {w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,} "
            "(a decompression-bomb guard; raise it with max_pixels=, --max-pixels or SCREENSTATE_MAX_PIXELS)"
        )


def _decode(data: bytes | Path, what: str, max_pixels: int) -> Image.Image:
    if isinstance(data, (bytes, bytearray)) and len(data) == 0:
        raise InvalidImageError(f"{what}: empty input (0 bytes)")
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data) as im:
            _check_size(im.size, max_pixels, what)
            im.load()
            rotated: Image.Image = ImageOps.exif_transpose(im) or im
            return _to_rgb(rotated)
    except InvalidImageError:
        raise
    except Image.DecompressionBombError as e:
        raise InvalidImageError(f"{what}: {e}") from e
    except UnidentifiedImageError as e:
        raise InvalidImageError(f"{what}: not a recognised image format") from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise InvalidImageError(f"{what}: corrupt or truncated image ({e})") from e


def load_image(src: ImageInput, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode any supported input to an RGB PIL image.

    Accepts a path (str / PathLike), encoded bytes, a PIL image, or a uint8 numpy array
    shaped [H, W], [H, W, 3] or [H, W, 4] (RGB order).
    """
    if isinstance(src, Image.Image):
        _check_size(src.size, max_pixels, "PIL image")
        return _to_rgb(src)
    if isinstance(src, np.ndarray):
        return _from_array(src, max_pixels)
    if isinstance(src, (bytes, bytearray, memoryview)):
        return _decode(bytes(src), "image bytes", max_pixels)
    if isinstance(src, (str, os.PathLike)):
        p = Path(src)
        return _decode(read_image_file(p), str(p), max_pixels)
    raise InvalidImageError(
        f"unsupported image input of type {type(src).__name__}; "
        "pass a path, bytes, a PIL.Image.Image or a numpy uint8 array"
    )


def special_file_kind(mode: int) -> str | None:
    """What a non-regular, non-directory file is ("a named pipe (FIFO)", ...), or None."""
    for test, kind in (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return kind
    return None


def read_image_file(path: str | os.PathLike) -> bytes:
    """All bytes of a regular file, read once (hash and decode these same bytes).

    Opens without blocking and checks the opened file, so a FIFO, socket or device never
    hangs a job; broken symbolic links and link loops get their own message."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError as e:
        if p.is_symlink():
            raise InvalidImageError(f"{p}: broken symbolic link (target {os.readlink(p)} does not exist)") from e
        raise InvalidImageError(f"{p}: file not found") from e
    except IsADirectoryError as e:
        raise InvalidImageError(f"{p}: is a directory, not an image file") from e
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InvalidImageError(f"{p}: symbolic link loop") from e
        raise InvalidImageError(f"{p}: cannot read ({e.strerror or e})") from e
    st = os.fstat(fd)
    kind = "a directory" if stat.S_ISDIR(st.st_mode) else special_file_kind(st.st_mode)
    if kind is not None:
        os.close(fd)
        if kind == "a directory":
            raise InvalidImageError(f"{p}: is a directory, not an image file")
        raise InvalidImageError(f"{p}: {kind}, not a regular file")
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read()
        except OSError as e:
            raise InvalidImageError(f"{p}: cannot read ({e.strerror or e})") from e
    if not data:
        raise InvalidImageError(f"{p}: empty file (0 bytes)")
    return data


def _from_array(arr: np.ndarray, max_pixels: int) -> Image.Image:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise InvalidImageError(f"numpy image: expected shape [H, W], [H, W, 3] or [H, W, 4], got {arr.shape}")
    _check_size((arr.shape[1], arr.shape[0]), max_pixels, "numpy image")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and float(np.nanmax(arr)) <= 1.0:
            arr = arr * 255.0
        arr = np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8)
    return _to_rgb(Image.fromarray(np.ascontiguousarray(arr)))


def _downscale(img: Image.Image, s: float) -> Image.Image:
    """``img`` scaled by ``s`` when that shrinks it, else unchanged (never upscales)."""
    if s >= 1.0:
        return img
    w, h = img.size
    return img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR, reducing_gap=2.0)


def resize_max_side(img: Image.Image, max_side: int) -> Image.Image:
    """Downscale so the longer side is at most ``max_side`` (never upscales)."""
    return _downscale(img, max_side / max(img.size))


def screen_side_scale(size: tuple[int, int], max_side: int, aspect: float = 16 / 9) -> float:
    """The factor :func:`resize_screen_side` scales an image of ``size`` by (at most 1).

    >>> screen_side_scale((3840, 2160), 2560), screen_side_scale((1280, 5000), 2560)
    (0.6666666666666666, 1.0)
    """
    w, h = size
    return min(1.0, max_side / min(max(w, h), aspect * min(w, h)))


def resize_screen_side(img: Image.Image, max_side: int, aspect: float = 16 / 9) -> Image.Image:
    """Downscale so a screen-shaped window of the image (``aspect``:1) has its long side at
    most ``max_side``: a 4K screen shrinks like with ``resize_max_side``, but a long
    scrolling capture (1920x8000) keeps its text size instead of shrinking to a sliver."""
    return _downscale(img, screen_side_scale(img.size, max_side, aspect))


class ViewMode(str, Enum):
    """How a screenshot becomes square model inputs."""

    squash = "squash"
    letterbox = "letterbox"
    tiles = "tiles"


def parse_view_mode(mode: str | ViewMode) -> ViewMode:
    try:
        return ViewMode(mode)
    except ValueError as e:
        raise UnknownNameError("view mode", mode, [m.value for m in ViewMode]) from e


def _letterbox(img: Image.Image, size: int, fill: tuple[int, int, int]) -> Image.Image:
    w, h = img.size
    s = size / max(w, h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    small = img.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=2.0)
    canvas = Image.new("RGB", (size, size), fill)
    canvas.paste(small, ((size - nw) // 2, (size - nh) // 2))
    return canvas


def tile_grid(width: int, height: int, rows: int = 2) -> tuple[int, int]:
    """(cols, rows) so tiles are close to square: 1920x1080 with 2 rows -> 4x2."""
    cols = max(1, round(rows * width / height))
    return cols, rows


def make_views(
    img: Image.Image,
    size: int,
    mode: ViewMode,
    fill: tuple[int, int, int] = (0, 0, 0),
    tile_rows: int = 2,
) -> np.ndarray:
    """Model-side views of one screenshot as uint8 [views, size, size, 3].

    ``squash`` and ``letterbox`` give one view; ``tiles`` gives a letterboxed global view
    first, then ``cols x rows`` squashed tiles in row-major order.
    """
    if mode is ViewMode.squash:
        views = [img.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)]
    elif mode is ViewMode.letterbox:
        views = [_letterbox(img, size, fill)]
    else:
        views = [_letterbox(img, size, fill)]
        w, h = img.size
        cols, rows = tile_grid(w, h, tile_rows)
        # shrink once so each tile is resized from about 2x its output size
        scale = min(1.0, 2 * size * cols / w, 2 * size * rows / h)
        base = (
            img
            if scale >= 1.0
            else img.resize(
                (max(cols, round(w * scale)), max(rows, round(h * scale))), Image.Resampling.BILINEAR, reducing_gap=2.0
            )
        )
        bw, bh = base.size
        for r in range(rows):
            for c in range(cols):
                box = (
                    math.floor(c * bw / cols),
                    math.floor(r * bh / rows),
                    math.floor((c + 1) * bw / cols),
                    math.floor((r + 1) * bh / rows),
                )
                views.append(base.crop(box).resize((size, size), Image.Resampling.BICUBIC))
    return np.stack([np.asarray(v, dtype=np.uint8) for v in views])


@dataclass(frozen=True)
class Preparer:
    """Picklable callable mapping an RGB image to its :class:`ScreenPrepared` (each channel's
    preparer by channel name; no model inside, so Ray workers can run it without importing
    torch)."""

    fns: dict[str, Callable[[Image.Image], Any]]

    def __call__(self, img: Image.Image) -> ScreenPrepared:
        return ScreenPrepared.from_channels({name: fn(img) for name, fn in self.fns.items()})
