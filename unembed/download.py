"""Downloads for weights and data that users fetch at run time: progress bar, resumable, atomic,
and checked against a pinned sha256 when the caller has one.

A download has no total deadline (4.5 GB on a slow line takes hours, and it resumes), but it stops, resumably,
once it stalls: no socket wait lasts more than STALL_SECONDS, and less than STALL_BYTES in STALL_SECONDS is a
stall too, so a server that trickles a byte at a time cannot hold it. It reads at most `max_bytes`, refused at once
when the Content-Length says more, so an endless body cannot fill the disk.
"""

from __future__ import annotations

import http.client
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from .errors import IntegrityError
from .integrity import sha256_file

STALL_SECONDS = 60.0
STALL_BYTES = 64 * 1024  # in STALL_SECONDS: about 1 KiB/s, far below any working line
MAX_BYTES = 8 * 2**30  # the largest file unembed downloads, ImageBind's checkpoint, is 4.5 GB


HUB_CHECK_SECONDS = 5.0  # a reachable hub takes a TCP connection at once


def hub_out_of_reach() -> bool:
    """Whether the Hugging Face hub is out of reach: HF_HUB_OFFLINE is set, or its host (HF_ENDPOINT, default
    huggingface.co) takes no TCP connection within HUB_CHECK_SECONDS. The hub's libraries retry an unreachable hub for
    a minute or more before they look in their cache, so a loader that knows it is out of reach asks the cache alone
    (`local_files_only=True`). Behind a proxy (HTTPS_PROXY) the hub is taken as reachable: only the proxy can tell."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    endpoint = urllib.parse.urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    if urllib.request.getproxies().get(endpoint.scheme) and not urllib.request.proxy_bypass(host):
        return False
    try:
        socket.create_connection((host, endpoint.port or (443 if endpoint.scheme == "https" else 80)), timeout=HUB_CHECK_SECONDS).close()
    except OSError:
        return True
    return False


UNREACHABLE = "the Hugging Face hub cannot be reached from here (checked with a 5 s connection), so only the local cache was asked"


class DownloadTooLarge(OSError):
    """The server sent, or announced, more than the download's `max_bytes`."""


def download_file(url: str, target: Path, *, sha256: str | None = None, max_bytes: int = MAX_BYTES) -> Path:
    """Download `url` to `target` with a progress bar; an interrupted or stalled download resumes from its .partial.

    With `sha256`, the finished file must have that digest: otherwise it is deleted (a resumed
    partial may hold another file's bytes) and IntegrityError says so; `target` is never written.
    A file larger than `max_bytes` is refused (DownloadTooLarge, an OSError) and its partial deleted.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=STALL_SECONDS)  # bounds each socket wait, not the download
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the range starts at the end: the partial file is complete
            return _finish(partial, target, url, sha256)
        raise
    try:
        with response:
            _receive(response, partial, have, max_bytes)
    except DownloadTooLarge:
        partial.unlink(missing_ok=True)  # no prefix of a file that is not the one expected is worth resuming
        raise
    return _finish(partial, target, url, sha256)


def _receive(response, partial: Path, have: int, max_bytes: int) -> None:
    """Append the body of `response` to `partial` (which holds `have` bytes), within the stall and size limits."""
    if response.status != 206:  # the server ignored the range: start over
        have = 0
    length = response.headers.get("Content-Length", "").strip()
    total = have + int(length) if length.isdigit() else None
    if total is not None and total > max_bytes:
        raise DownloadTooLarge(f"the file is {total:,} bytes (its Content-Length), more than the {max_bytes:,} expected at most")
    with (
        open(partial, "ab" if have else "wb") as file,
        tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024, desc=partial.stem) as progress,
    ):
        window, received = time.monotonic(), 0  # the bytes of the current STALL_SECONDS
        try:
            # read1: what one socket read brings, so a trickle is seen at once (read(n) waits for all n bytes).
            while chunk := response.read1(1 << 20):
                if progress.n + len(chunk) > max_bytes:
                    raise DownloadTooLarge(f"the server sent more than the {max_bytes:,} bytes expected at most")
                file.write(chunk)
                progress.update(len(chunk))
                received += len(chunk)
                if time.monotonic() - window >= STALL_SECONDS:
                    if received < STALL_BYTES:
                        raise TimeoutError(f"less than {STALL_BYTES:,} bytes came in {STALL_SECONDS:g} s")
                    window, received = time.monotonic(), 0
        except (http.client.HTTPException, TimeoutError) as error:  # the connection dropped, or stalled
            raise OSError(f"the download stopped at {progress.n} bytes ({error}); load again to resume") from error
        if total is not None and progress.n != total:
            raise OSError(f"the download stopped at {progress.n} of {total} bytes; load again to resume")


def _finish(partial: Path, target: Path, url: str, sha256: str | None) -> Path:
    if sha256 is not None:
        actual = sha256_file(partial)
        if actual != sha256.lower():
            partial.unlink(missing_ok=True)
            raise IntegrityError(
                f"the download of {url} has sha256 {actual}, not the pinned {sha256}: it was damaged or the file "
                f"changed at its source. It was deleted; load again to retry, or fetch the file yourself and put "
                f"it at {target} once its sha256 is right."
            )
    os.replace(partial, target)
    return target
