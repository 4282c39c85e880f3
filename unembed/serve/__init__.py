"""`unembed serve`: a local web page that shows the loop reading a picture, a sound, a vector or a text.

    from unembed.serve import ServeSettings, serve
    serve(ServeSettings(spaces=("minibind",)), host="127.0.0.1", port=7860)

The parts: `models` (what the server offers and holds loaded), `uploads` (uploads stored and checked before
decoding), `jobs` (the queue: workers, places in line, cancel, deadline), `work` (the three jobs: invert,
arithmetic, explain), `app` (the FastAPI wiring and the pages in `static/`), `server` (uvicorn), `client` (a server
driven from Python). FastAPI, uvicorn and python-multipart come with the `serve` extra.
"""

from .models import Models, ServeSettings, is_local
from .server import create_app, serve
from .uploads import Limits

__all__ = ["Limits", "Models", "ServeSettings", "create_app", "is_local", "serve"]
