"""What the `unembed` command prints is safe for a terminal: text from outside (captions, LLM answers, file names,
servers' error messages) cannot clear the screen, retitle the window or ring the bell.

`printable(text)` takes secrets out (`unembed.secrets.redact`) and writes every control character but newline and tab
as a visible escape (`\\x1b`, `\\x07`, `\\r`);
`printable_stdout()` applies it to everything a command prints on stdout. Messages on stderr go through
`printable` where they are written (the error line, log records, the generator report), since progress bars on
stderr need their carriage returns.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from collections.abc import Iterator

from ..checks import TERMINAL_CONTROLS
from ..secrets import redact

_CONTROL = re.compile(f"[{TERMINAL_CONTROLS}]")


def printable(text: str) -> str:
    """`text` without secrets (unembed.secrets) and with each control character (but newline and tab) as a visible escape."""
    return _CONTROL.sub(lambda match: match[0].encode("unicode_escape").decode("ascii"), redact(text))


def warn(message: str) -> None:
    """`message` on stderr, made printable."""
    print(printable(message), file=sys.stderr)


def quiet_broken_pipe() -> int:
    """After stdout's reader went away (`unembed bank info | head`): send what is still buffered to nowhere, so the
    interpreter's exit does not raise again; the exit status of a command killed by SIGPIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # stdout is not a file descriptor (a test's capture)
        pass
    return 141


class _Printable:
    """A text stream that writes through `printable` to the stream it wraps."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(printable(text))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextlib.contextmanager
def printable_stdout() -> Iterator[None]:
    """Within the block, everything printed on sys.stdout passes through `printable`."""
    original = sys.stdout
    sys.stdout = _Printable(original)
    try:
        yield
    finally:
        sys.stdout = original
