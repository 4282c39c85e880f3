"""The Space contract: an encoder that maps texts (and maybe images, audio, video) into one vector space.

A space implements one method, `_encode(modality, batch)`: the encoder call on at most
`batch_size` items of one modality, returning raw rows. `embed` does the rest once for every space:
it checks the modality and the items, splits them into batches and returns float32 unit rows.
"""

from __future__ import annotations

import numbers
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, SpaceError

if TYPE_CHECKING:  # torch is imported by the spaces that need it, not here
    from .runtime import TorchRuntime

# MILS's caption banks for each modality, the start of an inversion when no bank is given.
MILS_CAPTION_SOURCES = {"image": "mils-image", "video": "mils-image", "audio": "mils-audio", "text": "mils-image"}


class Space(ABC):
    """An embedding space. Every `embed*` method returns float32 (n, dim) L2-normalised rows.

    `spec` is the registry string that rebuilds this space (`load_space(space.spec)`); banks
    record it so a bank is never searched with vectors from another space. `caption_sources`,
    `renderer` and `generator` say what suits the space: the caption source a bank for each modality is
    built from, the renderer that draws what the space sees, and the generator the loop uses when none is given.
    """

    spec: str
    dim: int
    modalities: tuple[str, ...]
    batch_size: int = 32
    caption_sources: dict[str, str] = MILS_CAPTION_SOURCES
    renderer: str = "diffusers"
    generator: str | None = None  # the loop's default generator here; None: unembed.generators.default_generator decides
    runtime: TorchRuntime | None = None  # torch-backed spaces: their device and autocast dtype (spaces.runtime.TorchRuntime)

    @abstractmethod
    def _encode(self, modality: str, batch: list[Any]) -> np.ndarray:
        """Raw (len(batch), dim) rows for at most `batch_size` items of `modality`; `embed` normalises them."""

    def embed(self, modality: str, items: Sequence[Any]) -> np.ndarray:
        """Embed a list of `items` of one modality: texts, or the inputs of `unembed.spaces.inputs`."""
        if modality not in self.modalities:
            raise SpaceError(
                f"space {self.spec!r} cannot embed {modality!r}; it supports {', '.join(self.modalities)}. "
                "Choose a space that has this modality (e.g. minibind or imagebind)."
            )
        items = _as_list(modality, items)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        if int(self.batch_size) < 1:
            raise InputError(f"batch_size must be at least 1; got {self.batch_size}.")
        rows = [self._encode(modality, items[start : start + self.batch_size]) for start in range(0, len(items), self.batch_size)]
        return normalise_rows(np.concatenate([np.asarray(row, dtype=np.float32) for row in rows]))

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed("text", texts)

    def caption_source(self, modality: str) -> str:
        """The caption source (see unembed.index.sources) a bank for inverting `modality` starts from."""
        if modality not in self.caption_sources:
            raise SpaceError(f"space {self.spec!r} names no caption source for {modality!r}. Give a bank.")
        return self.caption_sources[modality]

    @property
    def text_tower(self) -> str:
        """The spec of the space whose text embeddings this one's are: itself, unless it borrows a text encoder
        (MiniBind's is MiniLM's), so that what is trained on text embeddings (a decoder) serves both."""
        return self.spec

    def __repr__(self) -> str:
        return f"{type(self).__name__}(spec={self.spec!r}, dim={self.dim}, modalities={self.modalities})"


def _as_list(modality: str, items: Any) -> list:
    single = isinstance(items, (str, os.PathLike)) or (
        modality == "audio" and isinstance(items, tuple) and len(items) == 2 and isinstance(items[1], numbers.Number)
    )
    if single:
        wrapped = "[text]" if modality == "text" else "[item]"
        raise InputError(f"embed('{modality}', ...) takes a list of inputs, not one {type(items).__name__}. Wrap it: {wrapped}.")
    items = list(items)
    if modality == "text" and not all(isinstance(text, str) for text in items):
        raise InputError("texts must be strings. Convert other values with str().")
    return items


def normalise_rows(array: np.ndarray) -> np.ndarray:
    """Encoders' raw outputs to float32 unit rows (models scale or average, which breaks unit length)."""
    array = np.asarray(array, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.ascontiguousarray(array / np.maximum(norms, 1e-12), dtype=np.float32)
