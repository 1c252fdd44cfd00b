"""The library reads no SCREENSTATE_* variable itself; the CLI reads them and passes options."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from screenstate.cli import app
from screenstate.embeddings.cache import default_cache_dir, set_cache_root

runner = CliRunner()


def test_cache_root_comes_from_the_cli_not_the_environment(tmp_path, monkeypatch):
    set_cache_root(None)
    monkeypatch.setenv("SCREENSTATE_CACHE", str(tmp_path / "env"))
    assert default_cache_dir() != tmp_path / "env"  # the library does not read it
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # platformdirs' convention, not ours
    assert default_cache_dir() == tmp_path / "xdg" / "screenstate"
    res = runner.invoke(app, ["models", "list"], env={"SCREENSTATE_CACHE": str(tmp_path / "env")})
    assert res.exit_code == 0 and f"cached in {tmp_path / 'env' / 'calibration'}" in res.output
    res = runner.invoke(app, ["--cache-root", str(tmp_path / "opt"), "models", "list"])
    assert f"cached in {tmp_path / 'opt' / 'calibration'}" in res.output


def test_max_pixels_comes_from_the_cli(data_dir, monkeypatch):
    args = [
        "classify",
        str(data_dir / "login_page.png"),
        "--classes",
        str(data_dir / "classes_small.json"),
        "--json",
        "--encoder",
        "clip",
        "--clip-model",
        str(data_dir / "tiny-clip.json"),
        "--clip-pretrained",
        "random",
    ]
    assert runner.invoke(app, args).exit_code == 0
    res = runner.invoke(app, args, env={"SCREENSTATE_MAX_PIXELS": "1000"})
    row = json.loads(res.output.splitlines()[0])
    assert res.exit_code == 1 and "over the limit of 1,000" in row["error"]
    res = runner.invoke(app, [*args, "--max-pixels", "1000"])
    assert res.exit_code == 1 and "--max-pixels" in json.loads(res.output.splitlines()[0])["error"]
