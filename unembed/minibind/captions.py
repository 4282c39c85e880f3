"""Caption embeddings from the frozen text tower, cached on disk, and the retrieval check built on them.

MiniLM is the slow part of training and benchmarking on a CPU (hundreds of captions a second at
best), and its output for a given caption never changes, so every caption is embedded once per
text space and kept in `<cache dir>/<space>-captions.npz`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .. import atomic
from ..paths import cache_dir, safe_name
from ..spaces import Space
from . import world


class CaptionCache:
    """`embed(captions)` returns the text space's unit rows, embedding only captions not seen before."""

    def __init__(self, space: Space, folder: str | os.PathLike | None = None):
        self.space = space
        self.path = Path(folder or cache_dir("minibind")) / f"{safe_name(space.spec)}-captions.npz"
        self._rows: dict[str, np.ndarray] = {}
        if self.path.is_file():
            with np.load(self.path, allow_pickle=False) as stored:
                if stored["vectors"].shape[1:] == (space.dim,):
                    self._rows = dict(zip(stored["captions"].tolist(), stored["vectors"], strict=True))

    def embed(self, captions: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(c for c in captions if c not in self._rows))
        if missing:
            self._rows.update(zip(missing, self.space.embed_text(missing), strict=True))
            self._save()
        if not captions:
            return np.zeros((0, self.space.dim), dtype=np.float32)
        return np.stack([self._rows[c] for c in captions]).astype(np.float32)

    def _save(self) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, captions=np.array(list(self._rows)), vectors=np.stack(list(self._rows.values())))
        atomic.write_bytes(self.path, buffer.getvalue())


def family_candidates(modality: str, embed_text, families: Sequence[str] | None = None) -> dict[str, tuple[list[str], np.ndarray]]:
    """Canonical captions of every scene of each family with their embeddings: the retrieval candidates."""
    scenes_of: Callable[[str], Sequence[world.ImageScene | world.AudioScene]]
    if modality == "image":
        scenes_of, families = world.all_image_scenes, families or world.IMAGE_FAMILIES
    else:
        scenes_of, families = world.all_audio_scenes, families or world.AUDIO_FAMILIES
    candidates = {}
    for family in families:
        texts = [world.caption(scene) for scene in scenes_of(family)]
        candidates[family] = (texts, embed_text(texts))
    return candidates


def retrieval_top1(vectors: np.ndarray, scenes: Sequence, candidates: dict[str, tuple[list[str], np.ndarray]]) -> dict:
    """Share of `vectors` whose nearest candidate caption (within the scene's family) is the true one.

    Returns {"top1": overall, "per_family": {family: top1}, "n": count, "errors": [(truth, retrieved)...]}.
    """
    hits: dict[str, list[bool]] = {}
    errors = []
    for vector, scene in zip(vectors, scenes, strict=True):
        texts, rows = candidates[scene.family]
        retrieved = texts[int(np.argmax(rows @ vector))]
        truth = world.caption(scene)
        hits.setdefault(scene.family, []).append(retrieved == truth)
        if retrieved != truth:
            errors.append((truth, retrieved))
    total = sum(len(h) for h in hits.values())
    return {
        "top1": sum(sum(h) for h in hits.values()) / max(total, 1),
        "per_family": {family: float(np.mean(h)) for family, h in hits.items()},
        "n": total,
        "errors": errors,
    }
