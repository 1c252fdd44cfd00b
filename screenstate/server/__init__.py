"""HTTP service compatible with the reference server (FastAPI)."""

from screenstate.server.app import create_app
from screenstate.server.limits import ServiceLimits

__all__ = ["ServiceLimits", "create_app"]
