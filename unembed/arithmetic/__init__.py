"""Cross-modal arithmetic: `image(red circle) - "red" + "blue"`, `scene.png + rain.wav`, in one space.

    from unembed.arithmetic import arith, file, text
    result = arith([file("scene.png"), file("rain.wav")], space="minibind", mode="text")

Rooms: `terms` (inputs, parsing, the combined embedding), `merge` (text mode's checked merge),
`combination` (`arith`: embedding and text modes), `render` (render-and-score prompt optimisation).
"""

from .combination import MODES, ArithmeticResult, arith
from .merge import MergeResult, merge_many
from .render import RenderedImageEmbedder, render_and_score
from .terms import Term, combine, embed_terms, expression, file, parse_expression, text, vector

__all__ = [
    "MODES", "ArithmeticResult", "arith", "MergeResult", "merge_many", "RenderedImageEmbedder", "render_and_score",
    "Term", "combine", "embed_terms", "expression", "file", "parse_expression", "text", "vector",
]
