"""Cross-modal arithmetic: `image(red circle) - "red" + "blue"`, `scene.png + rain.wav`, in one space.

    from unembed.arithmetic import arith, file, text
    result = arith([file("scene.png"), file("rain.wav")], space="minibind", mode="text")
    drawing = draw(result, space)   # the picture of the result, checked against the combination

A pipeline over the rooms: `terms` (inputs, parsing, the combined embedding), `merge` (text mode's
checked merge), `combination` (`arith_many`: embedding and text modes), `render` (drawing and
render-and-score prompt optimisation).
"""

from ..objectives import RenderedImageEmbedder
from .combination import DEFAULT_REQUESTED, DEFAULT_STEPS, MODES, ArithmeticResult, arith, arith_many
from .merge import MergeResult, merge_many
from .render import Drawing, draw, for_display, render_and_score
from .terms import Term, combine, combine_vectors, embed_terms, expression, file, parse_expression, term_of, text, vector

__all__ = [
    "DEFAULT_REQUESTED",
    "DEFAULT_STEPS",
    "MODES",
    "ArithmeticResult",
    "arith",
    "arith_many",
    "MergeResult",
    "merge_many",
    "Drawing",
    "RenderedImageEmbedder",
    "draw",
    "for_display",
    "render_and_score",
    "Term",
    "combine",
    "combine_vectors",
    "embed_terms",
    "expression",
    "file",
    "parse_expression",
    "term_of",
    "text",
    "vector",
]
