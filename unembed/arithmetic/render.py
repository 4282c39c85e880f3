"""Render-and-score (MILS's prompt rewriting for text-to-image): find the prompt whose picture lands
nearest a target embedding.

It is the MILS loop with another scorer: a candidate prompt is drawn by a renderer and the picture
embedded with the space's image encoder; its score is the cosine of that picture with the target.
Offline with `load_renderer("minibind")` and `load_space("minibind")`; with ImageBind and a
diffusers pipeline on a GPU for real pictures.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError
from ..invert import InversionResult, invert
from ..renderers import Renderer, load_renderer
from ..spaces import Space, load_space


class RenderedImageEmbedder:
    """texts -> (n, dim): each text drawn by `renderer` (same seed for all) and the picture embedded.

    A text the renderer cannot draw (it raises InputError: for MiniBind, no shape and no scene
    element) gets a zero row, so it scores 0 and never beats a picture that resembles the target.
    """

    def __init__(self, renderer: Renderer, space: Space, *, seed: int = 0):
        self.renderer, self.space, self.seed = renderer, space, seed
        self.name = f"render:{renderer.name}"

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


def for_display(image, size: int = 256):
    """Small pictures (MiniBind's are 64x64) scaled up with square pixels, so they can be seen."""
    from PIL import Image

    factor = size // max(image.size)
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST) if factor > 1 else image


def default_renderer(space: Space) -> str:
    """The renderer that draws what `space` sees: MiniBind's world for minibind, else diffusers' default."""
    return "minibind" if space.spec.startswith("minibind") else "diffusers"


def render_and_score(
    target,
    *,
    space: str | Space = "minibind",
    renderer: str | Renderer | None = None,
    bank=None,
    seed: int = 0,
    **options,
) -> InversionResult:
    """The prompt (result.text) whose rendered picture is nearest `target` (dim,) in `space`.

    result.score is that picture's cosine with the target; result.trajectory() its rise per step.
    bank: where the prompts start (a Bank, folder or named source; default: the space's image captions); options go to `unembed.invert`
    (generator, steps, requested, keep, patience, ...); the modality is "image".
    """
    space = load_space(space)
    if "image" not in space.modalities:
        raise InputError(f"render-and-score embeds pictures, but space {space.spec!r} has no image encoder. Use minibind or imagebind.")
    renderer = load_renderer(renderer or default_renderer(space))
    from ..invert.inputs import default_bank_source, resolve_bank

    bank = resolve_bank(bank or default_bank_source("image", space), space)
    scorer = RenderedImageEmbedder(renderer, space, seed=seed)
    return invert(target, space=space, bank=bank, modality="image", scorer=scorer, seed=seed, **options)
