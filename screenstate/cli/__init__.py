"""Command line: a thin shell over the Python API, one module per command group
(:mod:`.run`, :mod:`.serve`, :mod:`.exemplars`, :mod:`.models`). Heavy imports happen
inside commands, so ``screenstate --help`` is instant."""

from __future__ import annotations

import importlib
import os
import sys
from typing import NoReturn

from screenstate.cli.common import app

#: importing a group's module registers its commands; this order is the order of --help
GROUPS = ("run", "serve", "exemplars", "models")
for _group in GROUPS:
    importlib.import_module(f"screenstate.cli.{_group}")

__all__ = ["app", "classify_directory_main", "main"]


def _no_openvino_telemetry() -> None:
    """``import openvino`` sends a usage event to Google Analytics from a forked process (and
    the exit waits up to 3 s for it) unless a consent file says no. A command for offline
    machines sends nothing: OpenVINO's telemetry starts in its opt-in mode (nothing sent
    without consent); a user who opted in (``opt_in_out --opt_in``) keeps OpenVINO's default."""
    try:
        from openvino_telemetry import Telemetry
        from openvino_telemetry.utils.opt_in_checker import ConsentCheckResult, OptInChecker
    except ImportError:
        return
    try:
        if OptInChecker().check(enable_opt_in_dialog=False, disable_in_ci=True) != ConsentCheckResult.ACCEPTED:
            # the instance OpenVINO's import reuses (a singleton; same app name, so not re-initialised)
            Telemetry(app_name="OpenVINO", tid="none", backend="ga4", enable_opt_in_dialog=True, disable_in_ci=True)
    except Exception:  # noqa: BLE001 - their internals may change: then OpenVINO behaves as it does without us
        pass


def _exit(code: object) -> NoReturn:
    """Leave without the interpreter's teardown (unloading torch's modules alone takes 0.3-1 s)
    when nothing is left to finish: exit handlers run and the streams are flushed first; a
    live non-daemon thread, or an exit message, gets Python's normal exit."""
    import atexit
    import threading

    busy = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if busy or not (code is None or isinstance(code, int)):
        raise SystemExit(code)
    atexit._run_exitfuncs()  # what a normal exit runs: logging's flush, temporary folders, Ray's shutdown
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (screenstate ... | head)
            pass
    os._exit(code or 0)


def main() -> None:
    _no_openvino_telemetry()
    try:
        app()
    except SystemExit as e:
        _exit(e.code)


def classify_directory_main() -> None:
    """Console script `classify_directory` with the reference server's flags."""
    sys.argv = [sys.argv[0], "classify-directory", *sys.argv[1:]]
    main()
