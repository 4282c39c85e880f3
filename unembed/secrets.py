"""Secrets never leave in what unembed writes: messages, log lines, results, Parquet columns, JSON, web pages.

`remember(secret)` is told each secret unembed is given (an API key); `redact(text)` takes out every remembered
secret, and anything shaped like a credential whatever a server sends back: a bearer or basic token, an
`Authorization` header's value, an `api_key=` value, an `sk-...` key, and `user:password@` in a URL. Each door
that writes text from outside passes it through `redact`: generators' errors, the command's output and logs, a
run's error column, the web page's messages.
"""

from __future__ import annotations

import base64
import re
import threading
import urllib.parse

REDACTED = "[redacted]"
_known: set[str] = set()
_lock = threading.Lock()
_SHAPES = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\"',}\n]+"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b(api[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\"',\s}&]+"), rf"\1{REDACTED}"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), REDACTED),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1"),
]


def remember(secret: str | None) -> None:
    """Take `secret` out of everything `redact` sees from now on (too short a string would match ordinary text)."""
    if secret and len(secret) >= 6:
        with _lock:
            _known.add(secret)


def remember_url_credentials(url: str | None) -> None:
    """Remember a URL's password, as written and percent-decoded, and the `Authorization: Basic` token that httpx
    makes of its user and password (base64 of USER:PASSWORD): a server that echoes that token alone would otherwise
    have it printed."""
    parts = urllib.parse.urlsplit(url or "")
    if parts.password is None:
        return
    written = (parts.username or "", parts.password)
    for user, password in {written, (urllib.parse.unquote(written[0]), urllib.parse.unquote(written[1]))}:
        remember(password)
        remember(base64.b64encode(f"{user}:{password}".encode()).decode("ascii"))


def redact(text: str) -> str:
    """`text` without any remembered secret or anything shaped like a credential."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, REDACTED)
    for shape, replacement in _SHAPES:
        text = shape.sub(replacement, text)
    return text


def redact_url(url: str) -> str:
    """`url` without user:password, so a spec, a result or an error never carries credentials."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc + (f":{parts.port}" if parts.port else "")))
