"""Connecting to Ray: a cluster at ``--ray-address``/``RAY_ADDRESS``, else a quiet local
Ray started once; and what the cluster looks like (its live nodes).

Quiet means no third-party line on the user's terminal in a normal run: worker output stays
in Ray's session logs (``log_to_driver=False``), Ray's own loggers print warnings only when
``screenstate`` logs at INFO (``--verbose``), Ray Data's console handler prints errors only
(its session log file keeps everything), and its progress bars are off because the job draws
its own (``batch/progress.py``). Token authentication stays as Ray sets it up; only its
notice is hidden.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

# logs "Token authentication is enabled for this Ray cluster ..." at WARNING on every start
_TOKEN_LOGGER = "ray._private.authentication.authentication_token_setup"


def _verbose() -> bool:
    return logging.getLogger("screenstate").isEnabledFor(logging.INFO)


def quiet_ray_data() -> None:
    """Ray Data's console handler at ERROR (unless ``--verbose``) and its progress bars off;
    its file handler in the session's log directory is left as it is."""
    import ray.data

    level = logging.INFO if _verbose() else logging.ERROR
    for h in logging.getLogger("ray.data").handlers:
        if getattr(h, "name", None) == "console":
            h.setLevel(level)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.enable_operator_progress_bars = False
    try:
        ctx.print_on_execution_start = False
    except AttributeError:  # older Ray
        pass


def init_ray(address: str | None = None) -> None:
    """Connect to ``address``, else let Ray decide (it reads ``RAY_ADDRESS`` itself), starting
    a quiet local Ray once when there is no cluster to join."""
    import ray

    if ray.is_initialized():
        quiet_ray_data()
        return
    level = logging.INFO if _verbose() else logging.WARNING
    logging.getLogger(_TOKEN_LOGGER).setLevel(level if _verbose() else logging.ERROR)
    kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False, "logging_level": level}
    address = address or None
    if address in (None, "local"):  # "local": always a new local Ray, never a running cluster
        kwargs.update(include_dashboard=False, configure_logging=False)
    ray.init(address=address, **kwargs)
    quiet_ray_data()


def ray_started() -> bool:
    """Whether this process is connected to Ray (never imports Ray to find out: seconds)."""
    ray = sys.modules.get("ray")
    return ray is not None and bool(ray.is_initialized())


def alive_nodes() -> list[dict[str, Any]]:
    import ray

    return [n for n in ray.nodes() if n.get("Alive")]


def is_multi_node() -> bool:
    return len(alive_nodes()) > 1
