"""The Space interface: an encoder that maps texts (and maybe images, audio) into one vector space."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

from ..errors import SpaceError


class Space(ABC):
    """An embedding space. Every `embed*` method returns float32 (n, dim) L2-normalised rows.

    `spec` is the registry string that rebuilds this space (`load_space(space.spec)`); banks
    record it so a bank is never searched with vectors from another space.
    """

    spec: str
    dim: int
    modalities: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.spec.split(":", 1)[0]

    @abstractmethod
    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        ...

    def embed(self, modality: str, items: Sequence[Any]) -> np.ndarray:
        """Embed `items` of one modality; subclasses with more than text override `_embed_modality`."""
        if modality not in self.modalities:
            raise SpaceError(
                f"space {self.spec!r} cannot embed {modality!r}; it supports {', '.join(self.modalities)}. "
                "Choose a space that has this modality (e.g. minibind or imagebind)."
            )
        if modality == "text":
            return self.embed_text(items)
        return self._embed_modality(modality, items)

    def _embed_modality(self, modality: str, items: Sequence[Any]) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} lists {modality!r} but does not embed it")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(spec={self.spec!r}, dim={self.dim}, modalities={self.modalities})"


def normalise_rows(array: np.ndarray) -> np.ndarray:
    """Encoders' raw outputs to float32 unit rows (models scale or average, which breaks unit length)."""
    array = np.asarray(array, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.ascontiguousarray(array / np.maximum(norms, 1e-12), dtype=np.float32)
