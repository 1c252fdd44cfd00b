"""The encoding progress bar of a batch job."""

from __future__ import annotations

import time
from typing import Any


class EncodeProgress:
    """A rich progress bar with frames/s (silent when disabled or not a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self._p: Any = None

    def __enter__(self) -> EncodeProgress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._p = RichProgress(
                TextColumn("encoding"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[fps]} frames/s"),
                TimeElapsedColumn(),
                transient=False,
            )
            self._p.start()
            self._task = self._p.add_task("encode", total=self.total, fps="-")
            self._t0 = time.perf_counter()
        return self

    def advance(self, n: int) -> None:
        if self._p is not None:
            done = self._p.tasks[0].completed + n
            fps = done / max(1e-6, time.perf_counter() - self._t0)
            self._p.update(self._task, advance=n, fps=f"{fps:.1f}")

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.stop()
