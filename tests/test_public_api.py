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
