"""The HTTP service: `create_app(ServiceSettings(...))` returns the FastAPI app."""

from buildcensus.service.app import create_app
from buildcensus.service.settings import Limits, ServiceSettings

__all__ = ["Limits", "ServiceSettings", "create_app"]
