"""``abkit serve``: the routers over HTTP, as an ASGI app (Starlette; ``pip install abkit[serve]``).

:func:`create_app` builds the app from a configuration (:mod:`abkit.service.config`); mount it
inside an existing Starlette or FastAPI app, or run it with ``abkit serve CONFIG``.
"""

from abkit.service.app import MAX_BODY_BYTES, create_app
from abkit.service.config import build_experiments, load_config

__all__ = ["MAX_BODY_BYTES", "build_experiments", "create_app", "load_config"]
