"""The precision/thread choice with a fake clock: each candidate "runs" by advancing it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from screenstate.embeddings import calibrate as cal
from screenstate.embeddings.calibrate import Calibration, CalibrationKey, choose


class FakeRuns:
    """Candidates whose run takes ``seconds[(precision, threads)]`` on a fake clock and
    returns ``outputs[precision]``; counts builds so tests can see a calibration happen."""

    def __init__(self, seconds: dict[tuple[str, int], float], outputs: dict[str, float]) -> None:
        self.now = 0.0
        self.seconds, self.outputs = seconds, outputs
        self.builds: list[tuple[str, int]] = []

    def timer(self) -> float:
        return self.now

    def build(self, precision: str, threads: int):
        self.builds.append((precision, threads))

        def run() -> float:
            self.now += self.seconds[(precision, threads)]
            return self.outputs[precision]

        return run


def agreement(ref: float, out: float) -> float:
    return 1.0 - abs(ref - out)


KEY = CalibrationKey(model="m", runtime="rt 1", threads=2, cpu="cpu X [abcd]")


def calibration(runs: FakeRuns, key: CalibrationKey = KEY, **kw) -> Calibration:
    return Calibration(key, runs.build, agreement, tolerance=0.99, **kw)


@pytest.mark.parametrize(
    "fp32_s, bf16_s, bf16_out, expected",
    [
        (0.30, 0.10, 0.995, "bf16"),  # faster and agrees
        (0.30, 0.10, 0.90, "fp32"),  # faster but disagrees
        (0.30, 0.45, 1.0, "fp32"),  # slower (the Xeon of issue 21)
        (0.30, 0.295, 1.0, "fp32"),  # within the margin: keep the exact reference
    ],
)
def test_fastest_agreeing_precision_wins(tmp_path, fp32_s, bf16_s, bf16_out, expected):
    runs = FakeRuns({("fp32", 2): fp32_s, ("bf16", 2): bf16_s}, {"fp32": 1.0, "bf16": bf16_out})
    choice = choose(calibration(runs), cache_root=tmp_path, timer=runs.timer)
    assert (choice.precision, choice.threads, choice.source) == (expected, 2, "calibrated")
    by_name = {t.precision: t for t in choice.trials}
    assert by_name["bf16"].seconds == pytest.approx(bf16_s)
    assert by_name["bf16"].ok == (bf16_out >= 0.99)


def test_cache_hit_skips_calibration(tmp_path):
    runs = FakeRuns({("fp32", 2): 0.3, ("bf16", 2): 0.1}, {"fp32": 1.0, "bf16": 1.0})
    first = choose(calibration(runs), cache_root=tmp_path, timer=runs.timer)
    n = len(runs.builds)
    runs.seconds = {("fp32", 2): 0.1, ("bf16", 2): 0.3}  # the machine "changed" but the key did not
    again = choose(calibration(runs), cache_root=tmp_path, timer=runs.timer)
    assert len(runs.builds) == n  # nothing was built or run
    assert (again.precision, again.source) == (first.precision, "cache") == ("bf16", "cache")
    assert again.trials == first.trials


@pytest.mark.parametrize(
    "changed",
    [
        replace(KEY, threads=1),
        replace(KEY, cpu="cpu X [ef01]"),  # same model name, other flags
        replace(KEY, cpu="cpu Y [abcd]"),
        replace(KEY, runtime="rt 2"),
        replace(KEY, model="m2"),
    ],
)
def test_cache_key_change_calibrates_again(tmp_path, changed):
    runs = FakeRuns({("fp32", 2): 0.3, ("bf16", 2): 0.1, ("fp32", 1): 0.3, ("bf16", 1): 0.5}, {"fp32": 1, "bf16": 1})
    choose(calibration(runs), cache_root=tmp_path, timer=runs.timer)
    n = len(runs.builds)
    choice = choose(calibration(runs, key=changed), cache_root=tmp_path, timer=runs.timer)
    assert choice.source == "calibrated" and len(runs.builds) > n
    assert changed.digest() != KEY.digest()


def test_fewer_threads_only_when_measurably_faster(tmp_path):
    key = replace(KEY, threads=8)
    runs = FakeRuns({("fp32", 8): 0.3, ("bf16", 8): 0.2, ("bf16", 4): 0.1}, {"fp32": 1.0, "bf16": 1.0})
    choice = choose(calibration(runs, key=key, thread_options=(4, 8, 16)), cache_root=tmp_path, timer=runs.timer)
    assert (choice.precision, choice.threads) == ("bf16", 4)
    # never more threads than the budget, and the budget itself is measured once
    assert runs.builds == [("fp32", 8), ("bf16", 8), ("bf16", 4)]
    runs.seconds[("bf16", 4)] = 0.25
    slower = choose(calibration(runs, key=key, thread_options=(4,)), cache_root=tmp_path / "b", timer=runs.timer)
    assert (slower.precision, slower.threads) == ("bf16", 8)


def test_unreadable_cache_file_calibrates_again(tmp_path):
    runs = FakeRuns({("fp32", 2): 0.3, ("bf16", 2): 0.1}, {"fp32": 1.0, "bf16": 1.0})
    choose(calibration(runs), cache_root=tmp_path, timer=runs.timer)
    for p in tmp_path.glob("*.json"):
        p.write_text("{not json")
    assert choose(calibration(runs), cache_root=tmp_path, timer=runs.timer).source == "calibrated"


def test_cached_choices_lists_this_machine_only(tmp_path, monkeypatch):
    runs = FakeRuns({("fp32", 2): 0.3, ("bf16", 2): 0.1}, {"fp32": 1.0, "bf16": 1.0})
    here = replace(KEY, cpu=cal.cpu_signature())
    choose(calibration(runs, key=here), cache_root=tmp_path, timer=runs.timer)
    choose(calibration(runs), cache_root=tmp_path, timer=runs.timer)  # another CPU's entry
    listed = cal.cached_choices(tmp_path)
    assert [(k.model, c.precision, c.source) for k, c in listed] == [("m", "bf16", "cache")]
    assert len(cal.cached_choices(tmp_path, this_machine=False)) == 2


def test_thread_budget_is_torchs_thread_count(monkeypatch):
    """torch owns OMP_NUM_THREADS (it reads it at start); the budget follows torch's count."""
    import torch

    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert cal.thread_budget() == 1
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"], "amx"),
        (["avx2", "avx512f", "avx512_bf16"], "avx512_bf16"),
        (["avx2", "avx512f"], "avx512"),
        (["sse4_2", "avx2"], "avx2"),
        (["neon"], "baseline"),
    ],
)
def test_isa_class(flags, expected):
    assert cal.isa_class(flags) == expected


def test_models_in_use_are_recorded():
    from screenstate.embeddings.ocr import OcrOptions, ScreenOCR

    assert ScreenOCR(OcrOptions(engine="onnxruntime", precision="fp32", threads=1)).choice.precision == "fp32"
    ScreenOCR(OcrOptions(engine="onnxruntime", precision="fp32", threads=1)).choice  # noqa: B018 - same again
    assert cal.used_precisions()["ocr:onnxruntime"] == "fp32, 1 threads (explicit)"
    ScreenOCR(OcrOptions(engine="onnxruntime", precision="fp32", threads=2)).choice  # noqa: B018
    assert cal.used_precisions()["ocr:onnxruntime"] == "fp32, 1 threads (explicit); fp32, 2 threads (explicit)"
