"""Connecting to Ray: a cluster at ``--ray-address``/``RAY_ADDRESS``, else a quiet local
Ray started once; and what the cluster looks like (its live nodes)."""

from __future__ import annotations

from typing import Any


def init_ray(address: str | None = None) -> None:
    """Connect to ``address``, else let Ray decide (it reads ``RAY_ADDRESS`` itself), starting
    a quiet local Ray once when there is no cluster to join."""
    import ray

    if ray.is_initialized():
        return
    address = address or None
    kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
    if address is None:
        kwargs.update(include_dashboard=False, configure_logging=False)
    ray.init(address=address, **kwargs)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    try:
        ctx.print_on_execution_start = False
    except AttributeError:  # older Ray
        pass


def ray_started() -> bool:
    import ray

    return bool(ray.is_initialized())


def alive_nodes() -> list[dict[str, Any]]:
    import ray

    return [n for n in ray.nodes() if n.get("Alive")]


def is_multi_node() -> bool:
    return len(alive_nodes()) > 1
