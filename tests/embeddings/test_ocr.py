"""OCR engines and recogniser batching on a real screenshot."""

from __future__ import annotations

import pytest

from screenstate.embeddings.images import load_image
from screenstate.embeddings.ocr import OcrOptions, ScreenOCR, bucket_width
from screenstate.errors import UnknownNameError


@pytest.fixture(scope="module")
def login(data_dir):
    return load_image(data_dir / "login_page.png")


@pytest.mark.parametrize("engine, precision", [("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16")])
def test_every_engine_reads_the_login_form(login, engine, precision):
    ocr = ScreenOCR(OcrOptions(engine=engine, precision=precision))
    lines = ocr(login)
    text = " ".join(ln.text for ln in lines).lower()
    assert "password" in text and "sign in" in text
    assert ocr.engine_id.startswith(engine)
    assert 8 <= len(lines) <= 20  # the form has 12 lines of text


def test_engines_agree_in_fp32(login):
    a = ScreenOCR(OcrOptions(engine="onnxruntime", precision="fp32"))(login)
    b = ScreenOCR(OcrOptions(engine="openvino", precision="fp32"))(login)
    same = len({ln.text for ln in a} & {ln.text for ln in b})
    assert same >= 0.9 * max(len(a), len(b))


def test_onnxruntime_ignores_bf16():
    assert ScreenOCR(OcrOptions(engine="onnxruntime", precision="bf16")).precision == "fp32"


@pytest.mark.parametrize(
    "width, bucket",
    [
        (1, 64),
        (63, 64),
        (64, 64),
        (65, 96),
        (96, 96),
        (97, 128),
        (300, 320),
        (1999, 2048),
        (2048, 2048),
        (2049, 2560),
        (2560, 2560),
        (5000, 5120),
    ],
)
def test_width_buckets_are_the_smallest_that_fit(width, bucket):
    # the fixed buckets up to 2048, then multiples of 512
    assert bucket_width(width) == bucket


def test_bad_engine_and_precision_are_named():
    with pytest.raises(UnknownNameError, match="OCR engine 'tesseract'"):
        OcrOptions(engine="tesseract")
    with pytest.raises(UnknownNameError, match="OCR precision 'int4'"):
        OcrOptions(precision="int4")


def test_recognize_in_batches_equals_each_crop_alone(login):
    import numpy as np

    ocr = ScreenOCR()  # detect/recognize load the models themselves
    full = np.asarray(login)[:, :, ::-1]
    rects = ocr.detect(login)
    crops = [np.ascontiguousarray(full[y0:y1, x0:x1]) for x0, y0, x1, y1 in rects]
    alone = [ocr.recognize([c])[0][0].strip() for c in crops]
    assert len(set(alone)) >= 8  # distinct lines, so a shuffled batch cannot pass
    # batches sort crops by width and pad them (padding may add spaces at the ends, which
    # the pipeline strips); odd counts exercise the short batch
    for n in (3, 9, len(crops)):
        got = ocr.recognize(crops[:n])
        assert [t.strip() for t, _ in got] == alone[:n]
    # reversed input comes back reversed
    assert [t.strip() for t, _ in ocr.recognize(crops[::-1])] == alone[::-1]


@pytest.mark.parametrize("precision, expected", [("fp32", "fp32"), ("bf16", "bf16"), ("fp16", "auto")])
def test_encoder_precision_reaches_the_ocr(precision, expected):
    from screenstate.embeddings.factory import EncoderOptions

    assert EncoderOptions(precision=precision).text_options().ocr.precision == expected


def test_cache_key_names_the_engine(text_encoder):
    ch = text_encoder.channels[0]
    assert ch.ocr.engine_id in ch.model_id


def test_grey_and_rgba_screens_are_read(login):
    ocr = ScreenOCR()
    for mode in ("L", "RGBA"):
        text = " ".join(ln.text for ln in ocr(login.convert(mode))).lower()
        assert "password" in text


def test_long_capture_is_read_in_strips_without_duplicates():
    """A scrolling capture 10x taller than wide: every row is read once (not shrunk away)."""
    import re

    from PIL import Image, ImageDraw, ImageFont

    from screenstate.embeddings.images import resize_screen_side

    img = Image.new("RGB", (480, 4800), "white")
    draw, font = ImageDraw.Draw(img), ImageFont.load_default(size=18)
    rows = range(1, 4800 // 40 + 1)  # from 1: a lone "0" reads as "O"
    for r in rows:
        draw.text((30, 40 * r - 30), f"Invoice row {r} total", fill="black", font=font)
    lines = ScreenOCR()(resize_screen_side(img, 2560))
    seen = [int(n) for ln in lines for n in re.findall(r"row (\d+)", ln.text)]
    assert sorted(seen) == list(rows)


def test_screen_side_resize_keeps_long_captures_readable():
    from PIL import Image

    from screenstate.embeddings.images import resize_screen_side

    assert resize_screen_side(Image.new("RGB", (3840, 2160)), 2560).size == (2560, 1440)
    assert resize_screen_side(Image.new("RGB", (1920, 8000)), 2560).size == (1440, 6000)
    assert resize_screen_side(Image.new("RGB", (1920, 1080)), 2560).size == (1920, 1080)


def test_a_changed_row_is_detected_in_one_piece():
    """Short wide regions (what StateChecker re-reads) are not cut into strips."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (1900, 40), "white")
    ImageDraw.Draw(img).text(
        (20, 8), "Saved 12 files to the shared folder", fill="black", font=ImageFont.load_default(size=20)
    )
    ocr = ScreenOCR()
    assert [ln.text for ln in ocr(img)] == ["Saved 12 files to the shared folder"]


def _fake_choose(seen: list, result):
    def choose(calibration, **kw):
        seen.append(calibration)
        return result

    return choose


def test_auto_precision_calibrates_over_native_precisions(monkeypatch):
    import screenstate.embeddings.ocr as ocr_mod
    from screenstate.embeddings.calibrate import Choice

    seen: list = []
    monkeypatch.setattr(ocr_mod, "native_precisions", lambda: ("bf16",))
    monkeypatch.setattr(ocr_mod, "choose", _fake_choose(seen, Choice("bf16", 2, "calibrated")))
    ocr = ScreenOCR(OcrOptions(engine="openvino", threads=2))
    assert ocr.engine_id == "openvino-bf16" and ocr.choice.threads == 2
    (c,) = seen
    assert tuple(c.candidates) == ("fp32", "bf16") and c.key.runtime.startswith("openvino ")
    assert c.key.threads == 2 and tuple(c.thread_options) == ()  # explicit threads are not searched
    assert c.tolerance == ocr_mod.OCR_AGREEMENT


@pytest.mark.parametrize(
    "engine, precision, native, expected",
    [
        ("openvino", "fp32", ("bf16",), "fp32"),
        ("openvino", "bf16", ("bf16",), "bf16"),
        ("openvino", "bf16", (), "fp32"),  # emulated bf16 would be slower
        ("openvino", "fp16", ("bf16",), "fp32"),
        ("onnxruntime", "bf16", ("bf16",), "fp32"),
    ],
)
def test_explicit_precision_never_calibrates(monkeypatch, engine, precision, native, expected):
    import screenstate.embeddings.ocr as ocr_mod

    monkeypatch.setattr(ocr_mod, "native_precisions", lambda: native)
    monkeypatch.setattr(ocr_mod, "choose", _fake_choose([], None))
    choice = ScreenOCR(OcrOptions(engine=engine, precision=precision)).choice
    assert (choice.precision, choice.source) == (expected, "explicit")


def test_threads_default_to_the_process_budget(monkeypatch):
    import torch

    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # e.g. a Ray worker given one core
        assert ScreenOCR(OcrOptions(precision="fp32")).choice.threads == 1
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize(
    "a, b, low, high",
    [
        (["Save", "Cancel"], ["Save", "Cancel"], 1.0, 1.0),
        (["Password options 9"], ["Passwrd options 9"], 0.9, 0.98),  # one character in 18
        (["Save"], [], 0.0, 0.0),
    ],
)
def test_text_agreement(a, b, low, high):
    from screenstate.embeddings.ocr import text_agreement

    assert low <= text_agreement(a, b) <= high


def test_auto_reads_like_fp32_on_the_calibration_screen():
    from screenstate.embeddings.ocr import OCR_AGREEMENT, calibration_screen, text_agreement

    auto, fp32 = ScreenOCR(), ScreenOCR(OcrOptions(precision="fp32"))
    screen = calibration_screen()
    a, b = [ln.text for ln in auto(screen)], [ln.text for ln in fp32(screen)]
    assert len(b) >= 45  # 51 lines are drawn
    assert text_agreement(b, a) >= OCR_AGREEMENT
    assert "Accounts" in " ".join(b)


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
@pytest.mark.parametrize("parallel", [1, 2])
def test_parallel_calls_read_as_one_at_a_time(login, engine, parallel):
    """``parallel`` calls at once (the service: one per worker), never more, each reading what
    it reads alone."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from PIL import ImageOps

    screens = [login, ImageOps.expand(login, 40, "white"), login.crop((0, 0, login.width, login.height // 2))]
    ocr = ScreenOCR(OcrOptions(engine=engine, precision="fp32", parallel=parallel))
    alone = [[ln.text for ln in ocr(s)] for s in screens]
    inside, most, lock = 0, 0, threading.Lock()
    det = ocr._det

    def counting_det(x):
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.2)  # long enough for the other threads to arrive
        try:
            return det(x)
        finally:
            with lock:
                inside -= 1

    ocr._det = counting_det
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda s: [ln.text for ln in ocr(s)], screens * 2))
    assert together == alone * 2
    assert most == parallel


def test_compiled_blobs_per_precision(login, tmp_path):
    """OpenVINO's compiled-model cache serves each precision its own blobs: fp32 first, then bf16
    compiled, then bf16 read back from the cache all read the form (one shared folder made the
    bf16 OCR read fp32 blobs and see nothing)."""
    from screenstate.embeddings.cache import set_cache_root

    set_cache_root(tmp_path)
    for precision in ("fp32", "bf16", "bf16"):
        ocr = ScreenOCR(OcrOptions(engine="openvino", precision=precision, threads=2))
        text = " ".join(ln.text for ln in ocr(login)).lower()
        assert "password" in text and "sign in" in text, (ocr.precision, text)
    folders = sorted(p.name for p in (tmp_path / "openvino").iterdir())
    assert folders == sorted({f"ocr-{p}-2t" for p in ("fp32", ocr.precision)})
    assert all(any(p.iterdir()) for p in (tmp_path / "openvino").iterdir())  # blobs were written
