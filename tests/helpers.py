"""Test helpers shared by several test modules: real MiniLM that can be interrupted or paused, and a
real HTTP file server on 127.0.0.1."""

import contextlib
import http.server
import threading

from unembed.spaces.sentence_transformers import SentenceTransformerSpace


class InterruptingSpace(SentenceTransformerSpace):
    """Real MiniLM that stops the process (as Ctrl-C would) after `budget` encoder calls, and pauses at
    call `pause_at` until the test sets `go` (it sets `paused` then)."""

    def __init__(self, minilm, budget=10**9, pause_at=None):
        self.__dict__.update(minilm.__dict__)
        self.budget, self.pause_at, self.calls = budget, pause_at, 0
        self.paused, self.go = threading.Event(), threading.Event()

    def embed_text(self, texts):
        self.calls += 1
        if self.calls > self.budget:
            raise KeyboardInterrupt
        if self.calls == self.pause_at:
            self.paused.set()
            self.go.wait(30)
        return super().embed_text(texts)


@contextlib.contextmanager
def file_server(folder, handler=None):
    """Serve `folder` (or answer with `handler`, a BaseHTTPRequestHandler class) at the yielded base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):  # ignores Range, as some mirrors do
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler or Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
