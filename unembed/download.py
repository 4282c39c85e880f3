"""Downloads for weights and data that users fetch at run time: progress bar, resumable, atomic,
and checked against a pinned sha256 when the caller has one."""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from .errors import IntegrityError
from .integrity import sha256_file


def download_file(url: str, target: Path, *, sha256: str | None = None) -> Path:
    """Download `url` to `target` with a progress bar; an interrupted download resumes from its .partial.

    With `sha256`, the finished file must have that digest: otherwise it is deleted (a resumed
    partial may hold another file's bytes) and IntegrityError says so; `target` is never written.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the range starts at the end: the partial file is complete
            return _finish(partial, target, url, sha256)
        raise
    with response:
        if response.status != 206:  # the server ignored the range: start over
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length else None
        with (
            open(partial, "ab" if have else "wb") as file,
            tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024, desc=target.name) as progress,
        ):
            try:
                while chunk := response.read(1 << 20):
                    file.write(chunk)
                    progress.update(len(chunk))
            except http.client.HTTPException as error:  # e.g. IncompleteRead: the connection dropped
                raise OSError(f"the download stopped at {progress.n} bytes ({error!r}); load again to resume") from error
            if total is not None and progress.n != total:
                raise OSError(f"the download stopped at {progress.n} of {total} bytes; load again to resume")
    return _finish(partial, target, url, sha256)


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
