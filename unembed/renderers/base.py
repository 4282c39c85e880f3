"""The Renderer contract: text in, picture out. Cross-modal arithmetic uses it to close the loop."""

from __future__ import annotations

from abc import ABC, abstractmethod

from PIL import Image


class Renderer(ABC):
    """Draws a picture of `text`. The same text and seed always give the same picture.

    `spec` is the registry string that rebuilds this renderer (`load_renderer(renderer.spec)`).
    """

    spec: str

    @abstractmethod
    def render(self, text: str, *, seed: int = 0) -> Image.Image:
        """An RGB picture of `text`; InputError when the renderer cannot draw it."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(spec={self.spec!r})"
