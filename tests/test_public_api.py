"""Public names import the way the README shows them."""

from __future__ import annotations

import inspect


def test_ask_is_the_function_even_after_its_module_was_imported():
    import screenstate.asking  # what the CLI and the service import first
    from screenstate import Answer, ask

    assert inspect.isfunction(ask) and ask is screenstate.asking.ask
    assert list(inspect.signature(ask).parameters)[:3] == ["image", "question", "spec"]
    assert Answer.__module__ == "screenstate.asking"
