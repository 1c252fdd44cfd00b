from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from screenstate.embeddings.images import ViewMode, load_image, make_views, tile_grid
from screenstate.errors import InvalidImageError, UnknownNameError
from screenstate.hashing import pixel_hash


def _png(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


RGB = Image.new("RGB", (40, 30), (10, 200, 30))


@pytest.mark.parametrize(
    "src, size",
    [
        (RGB, (40, 30)),
        (Image.new("RGBA", (8, 6), (255, 0, 0, 0)), (8, 6)),
        (Image.new("P", (8, 6)), (8, 6)),
        (Image.new("L", (8, 6), 128), (8, 6)),
        (Image.new("I;16", (8, 6), 1000), (8, 6)),
        (np.zeros((6, 8), np.uint8), (8, 6)),
        (np.zeros((6, 8, 3), np.uint8), (8, 6)),
        (np.zeros((6, 8, 4), np.uint8), (8, 6)),
        (np.ones((6, 8, 3), np.float32), (8, 6)),
        (_png(RGB), (40, 30)),
        (_png(RGB, "JPEG"), (40, 30)),
        (_png(RGB, "WEBP"), (40, 30)),
    ],
)
def test_accepted_inputs_become_rgb(src, size):
    img = load_image(src)
    assert img.mode == "RGB" and img.size == size


def test_transparent_pixels_become_white():
    img = load_image(Image.new("RGBA", (2, 2), (255, 0, 0, 0)))
    assert img.getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90
    data = _png(Image.new("RGB", (40, 20)), "JPEG", exif=exif.tobytes())
    assert load_image(data).size == (20, 40)


@pytest.mark.parametrize(
    "src, match",
    [
        (b"", "empty input"),
        (b"this is not an image", "not a recognised image format"),
        (_png(RGB)[:60], "corrupt or truncated"),
        (np.zeros((2, 3, 5), np.uint8), "expected shape"),
        (12, "unsupported image input of type int"),
    ],
)
def test_bad_inputs_get_clear_errors(src, match):
    with pytest.raises(InvalidImageError, match=match):
        load_image(src)


def test_bad_files(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InvalidImageError, match="empty file"):
        load_image(tmp_path / "empty.png")
    with pytest.raises(InvalidImageError, match="file not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(InvalidImageError, match="is a directory"):
        load_image(tmp_path)


def test_decompression_bomb_is_refused_before_decoding():
    data = _png(Image.new("L", (4000, 4000)))
    with pytest.raises(InvalidImageError, match="over the limit"):
        load_image(data, max_pixels=1_000_000)


def test_pixel_hash_ignores_encoding():
    assert pixel_hash(load_image(_png(RGB))) == pixel_hash(load_image(_png(RGB, "WEBP", lossless=True)))


@pytest.mark.parametrize("mode, n_views", [(ViewMode.squash, 1), (ViewMode.letterbox, 1), (ViewMode.tiles, 9)])
def test_views(mode, n_views):
    img = Image.new("RGB", (1920, 1080), (50, 60, 70))
    v = make_views(img, 64, mode)
    assert v.shape == (n_views, 64, 64, 3) and v.dtype == np.uint8
    if mode is ViewMode.letterbox:
        assert v[0, 0, 0].tolist() == [0, 0, 0] and v[0, 32, 32].tolist() == [50, 60, 70]


def test_tile_grid_is_near_square_and_mode_errors():
    assert tile_grid(1920, 1080, 2) == (4, 2)
    from screenstate.embeddings.images import parse_view_mode

    with pytest.raises(UnknownNameError, match="squash, letterbox, tiles"):
        parse_view_mode("stretch")
