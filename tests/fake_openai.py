"""A real OpenAI-compatible HTTP server on 127.0.0.1 for fault injection, run in a thread.

The real client code talks to it over HTTP. Each route answers as its `mode` says: `ok` (a numbered
list of `lines` lines), `500`, `garbage` (not JSON), `empty` (no choices), `hang` (answers nothing
until the test ends, at most `HANG_LIMIT` seconds), `redirect` (302 to `redirect_to`), `echo-key` (500 with the
request's Authorization header in its error message, as careless servers do). Hostile ones: `trickle` (the headers,
then the `ok` body one byte a second: every read is quick, the whole answer takes minutes), `trickle-headers` (the
status line and headers one byte a second too), `endless` (a body with no Content-Length and no end), `huge-length`
(claims `Content-Length: 2000000000`, then sends without end), `gzip` (the `ok` answer gzip-compressed, though the
client asked for none), `ansi` (the `ok` answer with escape and BEL characters in its lines). Answers of the wrong
shape: `json-list` (a JSON array where an object belongs), `deep` (arrays nested 100,000 deep, past Python's JSON
recursion), `content-list` (the `ok` answer with its message content a JSON list, not text), `text` (a body that is not JSON,
sent as text/plain). A hostile handler stops
when the client goes away, when the test ends, or after `TRICKLE_LIMIT` seconds or `ENDLESS_LIMIT` bytes. Every
request is recorded with its headers (names in lower case), so a test can see what reached which server.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG_LIMIT = 20.0  # a hung handler gives up by itself, so no test can hang on it
TRICKLE_SECONDS = 1.0  # between two bytes of a trickle
TRICKLE_LIMIT = 120.0  # a trickle ends by itself after this long (its whole answer would take ten minutes)
ENDLESS_LIMIT = 2**30  # an "endless" body stops after this many bytes, so a client without a cap cannot exhaust the machine
HOSTILE = ("trickle", "trickle-headers", "endless", "huge-length", "gzip")


class FakeOpenAI:
    def __init__(self, mode: str = "ok", *, lines: int = 5, redirect_to: str | None = None, models_mode: str = "ok"):
        self.mode, self.models_mode, self.lines, self.redirect_to = mode, models_mode, lines, redirect_to
        self.requests: list[dict] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest's output clean
                pass

            def do_GET(self):
                fake._record(self, None)
                fake._answer(self, fake.models_mode, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                payload = json.loads(body or b"{}")
                fake._record(self, payload)
                asked = fake.lines
                controls = "\x07 \x1b]0;pwned\x07 \x1b[2J" if fake.mode == "ansi" else ""
                if fake.mode == "echo-key-lines":  # the key in the answer itself, where a candidate holds it
                    controls = f" {self.headers.get('Authorization')}"
                text = "\n".join(f"{n}. a photo of a dog{controls} number {n} on a beach" for n in range(1, asked + 1))
                fake._answer(self, fake.mode, {
                    "id": "x", "object": "chat.completion", "created": 0, "model": payload.get("model", "fake"),
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 22, "total_tokens": 33},
                })  # fmt: skip

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _record(self, handler, payload):
        headers = {name.lower(): value for name, value in handler.headers.items()}
        self.requests.append({"method": handler.command, "path": handler.path, "headers": headers, "payload": payload})

    def _answer(self, handler, mode, ok_body):
        if mode == "hang":
            self.release.wait(HANG_LIMIT)
            return
        if mode in HOSTILE:
            self._hostile(handler, mode, json.dumps(ok_body).encode())
            return
        if mode in ("ansi", "echo-key-lines"):  # the controls, or the key, are in the text already
            mode = "ok"
        if mode == "echo-key":
            mode = "500"
            ok_body = {"error": {"message": f"rejected request with Authorization: {handler.headers.get('Authorization')}"}}
        if mode == "redirect":
            handler.send_response(302)
            handler.send_header("Location", self.redirect_to + handler.path.removeprefix("/v1"))
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        status, body = {
            "ok": (200, json.dumps(ok_body).encode()),
            "500": (500, json.dumps(ok_body).encode() if "error" in ok_body else b'{"error": {"message": "internal failure"}}'),
            "garbage": (200, b"<html>this is not json"),
            "empty": (200, json.dumps({**ok_body, "choices": []}).encode()),
            "404": (404, b'{"error": {"message": "not found"}}'),
            "401": (401, b'{"error": {"message": "bad key"}}'),
            "json-list": (200, b"[]"),
            "text": (200, b"\x1b[2Jnot json \xff\xfe"),
            "deep": (200, b"[" * 100_000 + b"]" * 100_000),
            "content-list": (200, json.dumps(_content_as_list(ok_body)).encode()),
        }[mode]
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain" if mode == "text" else "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _hostile(self, handler, mode, body):
        length = {"huge-length": "Content-Length: 2000000000\r\n", "endless": ""}.get(mode, f"Content-Length: {len(body)}\r\n")
        if mode == "gzip":
            body = gzip.compress(body)
            length = f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n"
        # HTTP/1.0: without a Content-Length the body runs until the connection closes.
        head = f"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n{length}\r\n".encode()
        handler.close_connection = True
        try:
            if mode == "trickle-headers":
                body, head = head + body, b""
            handler.wfile.write(head)
            if mode.startswith("trickle"):
                started = time.monotonic()
                for byte in body:
                    if self.release.wait(TRICKLE_SECONDS) or time.monotonic() - started > TRICKLE_LIMIT:
                        return
                    handler.wfile.write(bytes([byte]))
            elif mode in ("endless", "huge-length"):
                block = b" " * 65536  # JSON whitespace: the answer only ever gets longer
                for _ in range(ENDLESS_LIMIT // len(block)):
                    if self.release.is_set():
                        return
                    handler.wfile.write(block)
            else:
                handler.wfile.write(body)
        except OSError:  # the client hung up, as a client that refuses the answer does
            return

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=HANG_LIMIT)


def _content_as_list(body: dict) -> dict:
    """A chat answer whose message content is a list of its lines (a shape the chat API does not have)."""
    if "choices" not in body:
        return body
    message = body["choices"][0]["message"]
    return {**body, "choices": [{**body["choices"][0], "message": {**message, "content": message["content"].split("\n")}}]}
