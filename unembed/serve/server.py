"""Running the app: uvicorn on a host and port, a warning when the page is reachable from the network, and a stop
that cancels the jobs first (their streams then end, so the server does not wait for the line to drain)."""

from __future__ import annotations

import errno
import logging
import socket

from ..errors import InputError
from ..registry import require
from .models import Models, ServeSettings, is_local

log = logging.getLogger(__name__)


def create_app(settings: ServeSettings, models: Models | None = None, *, host: str = "127.0.0.1"):
    """The ASGI app (FastAPI) for `settings`, listening on `host`."""
    for module in ("fastapi", "uvicorn", "python_multipart"):
        require(module, extra="serve", needed_by="unembed serve")
    from .app import create_app as wire

    return wire(settings, models, local_only=is_local(host))


def serve(settings: ServeSettings, *, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Load the default space and banks, then serve the pages on host:port until interrupted."""
    app = create_app(settings, host=host)
    listening = _listen(host, port)  # before the models load: a port another program holds is said at once
    if not is_local(host):
        log.warning(
            "serving on %s: the page is reachable from the network, by anyone who can reach this machine. "
            "It has no login; use --host 127.0.0.1 unless that is what you want.",
            host,
        )
    log.info("loading %s and its caption banks", settings.spaces[0])
    app.state.models.warm()
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            app.state.queue.close()  # running jobs stop at their next step, waiting ones leave the line
            super().handle_exit(sig, frame)

    shown = f"[{host}]" if ":" in host else host
    log.info("ready: http://%s:%d/ (Ctrl-C stops)", shown, port)
    Server(uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=30)).run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port, bound here so that "ready" is said only of an address this server holds (uvicorn
    would say an address in use, or a host that does not resolve, after the line, and exit 3)."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as error:
        raise InputError(f"--host {host!r} is not an address of this machine ({error}). Give one, e.g. 127.0.0.1.") from None
    listening = socket.socket(family, kind, protocol)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart reuses the port at once
        listening.bind(address)
        listening.listen(2048)
    except OSError as error:
        listening.close()
        held = error.errno == errno.EADDRINUSE
        raise InputError(
            f"cannot serve on {host}:{port} ({error.strerror}). "
            + ("Another program holds that port: choose another with --port." if held else "Give an address of this machine with --host.")
        ) from None
    return listening
