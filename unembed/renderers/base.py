"""The renderer protocol: text in, picture out. Cross-modal arithmetic uses it to close the loop."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from PIL import Image


@runtime_checkable
class Renderer(Protocol):
    """Draws a picture of `text`. The same text and seed always give the same picture."""

    name: str

    def render(self, text: str, *, seed: int = 0) -> Image.Image:
        ...
