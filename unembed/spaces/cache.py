"""Text-embedding cache: within a process no candidate string is encoded twice by one space.

The LLM proposes the same texts again and again (across steps, and across targets of one
batch), and encoding is the scorer's whole cost. `cache_for(space)` returns the process-wide
cache of a space; `TextEmbeddingCache(space, enabled=False)` re-encodes every time (the MILS
reference procedure, for the benchmark). `encode` replaces the space's text encoder for scores that
are not a text embedding, e.g. render-and-score (the text is drawn and the picture embedded).
`limit` bounds a cache that lives as long as a server (the oldest texts are dropped first); one cache may be
shared by threads.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import InputError
from .base import Space


class TextEmbeddingCache:
    def __init__(
        self,
        space: Space,
        *,
        enabled: bool = True,
        encode: Callable[[list[str]], np.ndarray] | None = None,
        limit: int | None = None,
    ):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise InputError(f"a text-embedding cache's limit is a whole number of texts, 1 or more (or None: unbounded); got {limit!r}.")
        self.space = space
        self.enabled = enabled
        self.encode = encode or space.embed_text
        self.limit = limit
        self._vectors: dict[str, np.ndarray] = {}  # in insertion order: the oldest first, dropped first
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit rows (len(texts), dim); texts not seen before are encoded in one batch."""
        texts = list(texts)
        if not self.enabled:
            with self._lock:
                self.misses += len(texts)
            return self.encode(texts)
        with self._lock:
            found = {text: self._vectors[text] for text in texts if text in self._vectors}
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        # Encoded outside the lock: threads sharing the cache encode at once; one may encode a text another is encoding.
        encoded = dict(zip(missing, self.encode(missing), strict=True)) if missing else {}
        with self._lock:
            self.misses += len(missing)
            self.hits += len(texts) - len(missing)
            self._vectors.update(encoded)
            while self.limit is not None and len(self._vectors) > self.limit:
                del self._vectors[next(iter(self._vectors))]
        if not texts:
            return np.zeros((0, self.space.dim), dtype=np.float32)
        found.update(encoded)
        return np.stack([found[text] for text in texts])

    def stats(self, since: dict | None = None) -> dict[str, float]:
        """Hits, misses and hit rate so far, or since an earlier `stats()`."""
        hits, misses = self.hits - (since or {}).get("hits", 0), self.misses - (since or {}).get("misses", 0)
        return {"hits": hits, "misses": misses, "hit_rate": hits / (hits + misses) if hits + misses else 0.0}

    def __len__(self) -> int:
        return len(self._vectors)


_CACHES: weakref.WeakKeyDictionary[Space, TextEmbeddingCache] = weakref.WeakKeyDictionary()


def cache_for(space: Space) -> TextEmbeddingCache:
    """The process-wide cache of `space` (dropped with the space)."""
    if space not in _CACHES:
        _CACHES[space] = TextEmbeddingCache(space)
    return _CACHES[space]
