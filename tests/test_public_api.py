"""Public names import the way the README shows them."""

from __future__ import annotations

import inspect


def test_ask_is_the_function_even_after_its_module_was_imported():
    import screenstate.asking  # what the CLI and the service import first
    from screenstate import Answer, ask

    assert inspect.isfunction(ask) and ask is screenstate.asking.ask
    assert list(inspect.signature(ask).parameters)[:3] == ["image", "question", "spec"]
    assert Answer.__module__ == "screenstate.asking"


def test_readme_ask_example_runs(monkeypatch):
    """The README's `from screenstate import ask` block, run as written (offline text channel)."""
    import re
    from pathlib import Path

    root = Path(__file__).parent.parent
    monkeypatch.chdir(root)  # the example uses paths relative to the repository
    readme = (root / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "from screenstate import ask" in b)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    ans = scope["ans"]
    assert ans.path == "classifier" and ans.text


def test_every_readme_python_block_runs(tmp_path, monkeypatch):
    """Every ```python block of the README, top to bottom in one namespace as a reader would
    (the detector block reuses ``clf``), in a copy of the repository's example layout. The
    names a block leaves to the reader are given: ``screenshot`` (the login page),
    ``take_screenshot`` (returns the dashboard), and the files ``a.png``, ``b.png``, ``frame.png``."""
    import re
    import shutil
    from pathlib import Path

    from PIL import Image

    root = Path(__file__).parent.parent
    for d in ("configs", "examples"):
        shutil.copytree(root / d, tmp_path / d)
    frames = tmp_path / "examples" / "recording"
    for name, frame in (("a.png", "frame_00012.png"), ("b.png", "frame_00029.png"), ("frame.png", "frame_00020.png")):
        shutil.copy(frames / frame, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", (root / "README.md").read_text(), re.S)
    assert len(blocks) >= 5
    scope: dict = {
        "screenshot": Image.open(frames / "frame_00020.png").convert("RGB"),
        "take_screenshot": lambda: Image.open(frames / "frame_00029.png").convert("RGB"),
    }
    for block in blocks:
        exec(compile(block, "README.md", "exec"), scope)

    spec, res = scope["spec"], scope["res"]
    assert res.pred in spec.names and len(scope["clf"].classify_batch(["a.png", "b.png"])) == 2
    assert scope["found"].result.state == "dashboard"
    elements = {"sign_in_button", "password_field", "register_link"}  # configs/login_elements.json
    assert scope["boxes"] and {d.class_ for d in scope["boxes"]} <= elements
    assert (tmp_path / "states" / "cluster_00" / "cluster.json").is_file()
    assert "mailbox_inbox" in (tmp_path / "my_states.json").read_text()
    assert scope["ans"].path == "classifier"
