"""The web app runs on the same server as the API: the API's fixtures serve it too."""

from tests.api.conftest import api_runtime, world

__all__ = ["api_runtime", "world"]
