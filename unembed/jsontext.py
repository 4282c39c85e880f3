"""Reading JSON that came from outside (a bank's manifest, a run's `_job.json`, references, a decoder's config)."""

from __future__ import annotations

import json
from typing import Any


def parse(text: str) -> Any:
    """`json.loads(text)`; nesting too deep for Python's parser (`[[[[...`, a RecursionError) is the ValueError a damaged
    file gives, so every reader's "not valid JSON" message covers it."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("it is nested too deeply to read (damaged, or not written by unembed)") from None
