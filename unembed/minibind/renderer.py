"""Text -> image for MiniBind's world: parse the text with the world's parser, then draw the scene.

Free text is read robustly (synonyms, any word order, extra words); what the text leaves open is
filled in from `seed` (colour, size), or with the plain default (centre; one object). Text naming
neither a shape nor a scene element cannot be drawn and is an InputError.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image

from ..errors import InputError, RendererError
from ..renderers import Renderer
from . import world


class MiniBindRenderer(Renderer):
    spec = "minibind"

    def interpret(self, text: str, *, seed: int = 0) -> world.ImageScene:
        """The complete scene that `render` draws for `text`."""
        if not isinstance(text, str):
            raise InputError(f"render() takes text, got {type(text).__name__}.")
        parsed = world.parse_image_text(text)
        if not parsed.objects and parsed.element is None:
            raise InputError(
                f"MiniBind's world cannot draw {text!r}: it names no shape ({', '.join(world.SHAPES)}) "
                f"and no scene element ({', '.join(world.ELEMENTS)}). Describe one, e.g. 'a small red circle on the left'."
            )
        rng = np.random.default_rng(seed)
        objects = []
        for obj in parsed.objects:
            colour = obj.colour or list(world.COLOURS)[rng.integers(len(world.COLOURS))]
            if len(parsed.objects) == 1:
                obj = replace(obj, position=obj.position or "centre", size=obj.size or world.SIZES[rng.integers(len(world.SIZES))])
            objects.append(replace(obj, colour=colour))
        if len(objects) == 2 and parsed.element is not None:
            # The world draws scene elements with one object only; keep what the text stressed first.
            objects = objects[:1]
            objects[0] = replace(objects[0], position=parsed.objects[0].position, size=world.SIZES[rng.integers(len(world.SIZES))])
        return world.ImageScene(tuple(objects), parsed.element)

    def render(self, text: str, *, seed: int = 0) -> Image.Image:
        """A 64x64 RGB picture of `text` (resize it yourself for display: `.resize((256, 256), Image.NEAREST)`)."""
        scene = self.interpret(text, seed=seed)
        return Image.fromarray(world.render_image(scene, np.random.default_rng(seed)))


def load_minibind_renderer(argument: str = "", **options) -> MiniBindRenderer:
    if argument or options:
        raise RendererError(f"the minibind renderer takes no argument or option (got {argument or options!r}).")
    return MiniBindRenderer()
