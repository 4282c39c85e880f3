"""Driving a server from Python: start `unembed serve` in its own process, send a job, read its events.

    with local_server("--space", "minibind") as server:
        events = run_job(server.url, "invert", files={"file": "red_circle.png"})
        events[-1]["text"]

What the page does, without a browser: the load bench (`unembed bench serve`) and the tests use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import UnembedError
from ..registry import require


@dataclass
class LocalServer:
    url: str
    process: subprocess.Popen
    log: Path  # the server's stderr

    def rss_mb(self) -> float:
        """The server process's resident memory now, in MB (Linux: /proc)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise UnembedError("the server's memory cannot be read: /proc/PID/status has no VmRSS line (Linux only).")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def local_server(*options: str, host: str = "127.0.0.1", ready_within: float = 300.0) -> Iterator[LocalServer]:
    """`unembed serve OPTIONS` on a free port of `host`, ready to answer; stopped on leaving the block."""
    port = free_port(host)
    with tempfile.TemporaryDirectory(prefix="unembed-serve-log-") as folder:
        log = Path(folder) / "stderr.txt"
        with open(log, "wb") as sink:
            command = [sys.executable, "-m", "unembed", "serve", "--host", host, "--port", str(port), *options]
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        server = LocalServer(f"http://{host}:{port}", process, log)
        try:
            _wait_until_up(server, ready_within)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(server: LocalServer, within: float) -> None:
    httpx = require("httpx", extra="serve", needed_by="unembed.serve.client")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise UnembedError(f"unembed serve exited with {server.process.returncode}: {server.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.url}/api/options", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise UnembedError(f"unembed serve did not answer within {within:g} s: {server.log.read_text()[-2000:]}")


def run_job(
    url: str,
    job: str,
    *,
    files: Mapping[str, str | os.PathLike | list[str | os.PathLike]] | None = None,
    fields: Mapping[str, str] | None = None,
    timeout: float = 600.0,
) -> list[dict]:
    """POST a job ("invert", "arith" or "explain") with its files and fields; every event, the last one final."""
    httpx = require("httpx", extra="serve", needed_by="unembed.serve.client")
    parts = []
    with contextlib.ExitStack() as stack:
        for name, paths in (files or {}).items():
            for path in paths if isinstance(paths, list) else [paths]:
                parts.append((name, (Path(path).name, stack.enter_context(open(path, "rb")))))
        with httpx.stream("POST", f"{url}/api/{job}", data=dict(fields or {}), files=parts, timeout=timeout) as response:
            if response.status_code != 200:
                response.read()
                return [{"type": "error", "message": response.json().get("message", f"HTTP {response.status_code}")}]
            return [json.loads(line) for line in response.iter_lines() if line.strip()]
