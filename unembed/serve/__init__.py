"""`unembed serve`: a local web page that shows the loop reading a picture, a sound, a vector or a text.

    from unembed.serve import ServeSettings, serve
    serve(ServeSettings(spaces=("minibind",)), host="127.0.0.1", port=7860)

The parts: `models` (what the server offers and holds loaded), `uploads` (uploads stored and checked before
decoding), `jobs` (the queue: workers, places in line, cancel, deadline), `work` (the three jobs: invert,
arithmetic, explain), `app` (the FastAPI wiring and the pages in `static/`). FastAPI, uvicorn and
python-multipart come with the `serve` extra.
"""

from __future__ import annotations

import ipaddress
import logging

from ..registry import require
from .models import Models, ServeSettings
from .uploads import Limits

log = logging.getLogger(__name__)


def create_app(settings: ServeSettings, models: Models | None = None):
    """The ASGI app (FastAPI) for `settings`."""
    for module in ("fastapi", "uvicorn", "python_multipart"):
        require(module, extra="serve", needed_by="unembed serve")
    from .app import create_app as wire

    return wire(settings, models)


def serve(settings: ServeSettings, *, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Load the default space and banks, then serve the pages on host:port until interrupted."""
    app = create_app(settings)
    if not is_local(host):
        log.warning(
            "serving on %s: the page is reachable from the network, by anyone who can reach this machine. "
            "It has no login; use --host 127.0.0.1 unless that is what you want.",
            host,
        )
    log.info("loading %s and its caption banks", settings.spaces[0])
    app.state.models.warm()
    import uvicorn

    shown = f"[{host}]" if ":" in host else host
    log.info("ready: http://%s:%d/ (Ctrl-C stops)", shown, port)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def is_local(host: str) -> bool:
    """Whether `host` is only reachable from this machine (a loopback address or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


__all__ = ["Limits", "Models", "ServeSettings", "create_app", "is_local", "serve"]
