"""Drawing a combination, and render-and-score (MILS's prompt rewriting for text-to-image): find the
prompt whose picture lands nearest a target embedding.

Render-and-score is the MILS loop with another objective (`rendered`, unembed.objectives): a candidate
prompt is drawn by a renderer and the picture embedded with the space's image encoder; its score is the
cosine of that picture with the target. Offline with the minibind renderer and space; with ImageBind and a diffusers pipeline on a
GPU for real pictures. The renderer defaults to the one the space names (`space.renderer`).
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from .. import checks
from ..index import resolve_bank
from ..inverter import InversionResult, invert_many
from ..objectives import load_objective
from ..renderers import Renderer, load_renderer
from ..spaces import Space, load_space
from .combination import ArithmeticResult


def for_display(image: Image.Image, size: int = 256) -> Image.Image:
    """Small pictures (MiniBind's are 64x64) scaled up with square pixels, so they can be seen."""
    factor = size // max(image.size)
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST) if factor > 1 else image


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
    bank: where the prompts start (a Bank, folder or named source; default: the space's image captions);
    options go to `unembed.invert` (generator, steps, requested, keep, patience, ...); the modality is "image".
    """
    space = load_space(space)
    objective = load_objective("rendered", target=target, space=space, renderer=renderer, seed=seed)
    return invert_many(objective=objective, space=space, bank=resolve_bank(bank, space, "image"), modality="image", seed=seed, **options)[0]


@dataclass
class Drawing:
    """A combination drawn: the prompt given to the renderer and its picture."""

    prompt: str
    picture: Image.Image
    renderer: str
    rendered_cosine: float | None  # the picture's cosine with the combination; None when the space embeds no images
    render_and_score: InversionResult | None = None  # the optimised prompt's run, when asked for

    def to_dict(self) -> dict:
        data: dict[str, object] = {"renderer": self.renderer, "prompt": self.prompt, "rendered_cosine": self.rendered_cosine}
        if self.render_and_score is not None:
            run = self.render_and_score
            data["render_and_score"] = {"text": run.text, "rendered_cosine": run.score, "trajectory": run.trajectory()}
        return data


def draw(
    result: ArithmeticResult,
    space: Space,
    *,
    renderer: str | Renderer | None = None,
    render_steps: int = 0,
    seed: int = 0,
    **options,
) -> Drawing:
    """Draw the combination's text and check the picture against the combination.

    With `render_steps`, render-and-score first looks for a prompt whose picture lands nearer the
    combination (options go to it); its prompt is drawn instead when its picture scores higher.
    """
    render_steps, seed = checks.count(render_steps, "render_steps", minimum=0), checks.seed(seed)
    renderer = load_renderer(renderer or space.renderer)
    prompt, picture = result.text, renderer.render(result.text, seed=seed)
    if "image" not in space.modalities:
        return Drawing(prompt, picture, renderer.spec, None)
    cosine = float(space.embed("image", [picture])[0] @ result.target)
    optimised = None
    if render_steps:
        optimised = render_and_score(result.target, space=space, renderer=renderer, steps=render_steps, seed=seed, **options)
        if optimised.score > cosine:
            prompt, cosine = optimised.text, optimised.score
            picture = renderer.render(prompt, seed=seed)
    return Drawing(prompt, picture, renderer.spec, cosine, optimised)
