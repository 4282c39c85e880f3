"""Downloads for weights and data that users fetch at run time: progress bar, resumable, atomic."""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm


def download_file(url: str, target: Path) -> Path:
    """Download `url` to `target` with a progress bar; an interrupted download resumes from its .partial."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the range starts at the end: the partial file is complete
            os.replace(partial, target)
            return target
        raise
    with response:
        if response.status != 206:  # the server ignored the range: start over
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length else None
        with open(partial, "ab" if have else "wb") as file, tqdm(
            total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024, desc=target.name
        ) as progress:
            try:
                while chunk := response.read(1 << 20):
                    file.write(chunk)
                    progress.update(len(chunk))
            except http.client.HTTPException as error:  # e.g. IncompleteRead: the connection dropped
                raise OSError(f"the download stopped at {progress.n} bytes ({error!r}); load again to resume") from error
            if total is not None and progress.n != total:
                raise OSError(f"the download stopped at {progress.n} of {total} bytes; load again to resume")
    os.replace(partial, target)
    return target
