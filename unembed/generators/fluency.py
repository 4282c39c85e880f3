"""Fluency: the mean per-token log-likelihood of a text under a small fixed LM (SmolLM2 by default).

A scorer rewards any word salad that lands near the target ("Illustration with the
Illustration of the era" beats the bank's best caption on cosine); a language model does not.
The loop can gate candidates on fluency, and the benchmark reports it beside the cosine.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .llama_cpp import default_gguf, load_llama


class Fluency:
    """`score(texts)` -> mean log p(token | previous tokens) per text, in nats (higher = more fluent)."""

    def __init__(self, model_path: str | os.PathLike | None = None, *, n_threads: int | None = None):
        self.model_path = Path(model_path) if model_path else default_gguf()
        self.llm = load_llama(self.model_path, n_ctx=256, n_threads=n_threads, logits_all=True)
        self._cache: dict[str, float] = {}
        # One process-wide judge (default_fluency) serves every thread, and a llama.cpp context takes one caller at a time.
        self._lock = threading.Lock()
        # Scored after the start-of-text token, so the first word is judged too.
        self._prefix = self.llm.tokenize(b"", add_bos=True, special=True) or [self.llm.token_eos()]

    def score(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return np.array([self._score_one(text) for text in texts], dtype=np.float32)

    def _score_one(self, text: str) -> float:
        if text not in self._cache:
            tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)[:200]
            if not tokens:
                self._cache[text] = float("-inf")
                return self._cache[text]
            sequence = self._prefix + tokens
            self.llm.reset()
            self.llm.eval(sequence)
            logits = np.asarray(self.llm.scores[: len(sequence) - 1], dtype=np.float64)
            peak = logits.max(axis=1, keepdims=True)
            log_norm = peak[:, 0] + np.log(np.exp(logits - peak).sum(axis=1))
            targets = np.asarray(sequence[1:])
            log_probs = logits[np.arange(len(targets)), targets] - log_norm
            self._cache[text] = float(log_probs[len(self._prefix) - 1 :].mean())
        return self._cache[text]


@functools.lru_cache(maxsize=1)
def default_fluency() -> Fluency:
    """One SmolLM2 fluency model per process."""
    return Fluency()
