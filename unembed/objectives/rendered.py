"""`rendered`: render-and-score (MILS's prompt optimisation for text-to-image) as an objective.

Each text is drawn by a renderer and the picture embedded with the space's image encoder; the score
is the picture's cosine with the target. Its embedder is its own cache of pictures' embeddings, not
the loop's text cache (`bind` keeps it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..renderers import Renderer, load_renderer
from ..spaces import Space, TextEmbeddingCache, load_space
from .base import Objective, one_vector


class RenderedImageEmbedder:
    """texts -> (n, dim): each text drawn by `renderer` (same seed for all) and the picture embedded.

    A text the renderer cannot draw (it raises InputError: for MiniBind, no shape and no scene
    element) gets a zero row, so it scores 0 and never beats a picture that resembles the target.
    """

    def __init__(self, renderer: Renderer, space: Space, *, seed: int = 0):
        self.renderer, self.space, self.seed = renderer, space, seed
        self.name = f"render:{renderer.spec}"

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.space.dim), dtype=np.float32)
        drawn, pictures = [], []
        for index, text in enumerate(texts):
            try:
                pictures.append(self.renderer.render(text, seed=self.seed))
            except InputError:
                continue
            drawn.append(index)
        if pictures:
            rows[drawn] = self.space.embed("image", pictures)
        return rows


class Rendered(Objective):
    """Cosine of the text's picture (drawn by `renderer`, embedded by `space`) with `target`."""

    ranked_by_index = False

    def __init__(self, target, *, space: str | Space, renderer: str | Renderer | None = None, seed: int = 0):
        super().__init__()
        space = load_space(space)
        if "image" not in space.modalities:
            raise InputError(f"render-and-score embeds pictures, but space {space.spec!r} has no image encoder. Use minibind or imagebind.")
        self.target = one_vector(target, "the rendered objective's target", space.dim)
        self.renderer = load_renderer(renderer or space.renderer)
        self.dim, self.space, self.spec = space.dim, space.spec, f"rendered:{self.renderer.spec}"
        self.embedder = TextEmbeddingCache(space, encode=RenderedImageEmbedder(self.renderer, space, seed=seed))

    def bind(self, embedder) -> Rendered:
        return self  # its scores come from pictures, so the loop's text cache is not used

    def query(self) -> np.ndarray:
        # The bank is searched by text near the target; the picture's score then re-ranks what it found.
        return self.target

    def _score(self, vectors):
        return vectors @ self.target


def load_rendered(argument: str, *, target, space, renderer: str | Renderer | None = None, seed: int = 0) -> Rendered:
    """`rendered` (the space's renderer, or renderer=) or `rendered:RENDERER_SPEC`."""
    if argument and renderer is not None:
        raise InputError(f"rendered got the renderer twice ('rendered:{argument}' and renderer=). Give one.")
    return Rendered(target, space=space, renderer=argument or renderer, seed=seed)
