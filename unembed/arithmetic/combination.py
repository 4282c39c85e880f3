"""`unembed.arithmetic.arith(terms, space=..., mode=...)`: combine terms, then say the result in words.

embedding mode: normalise each term, weighted sum, re-normalise, invert the sum with the MILS loop
    (bootstrapped from the space's image captions, so the answer can be drawn).
text mode: invert each non-text term on its own (texts stay as they are), merge the texts into one
    scene description (`merge.merge_many`: LLM merges and rule-based joins, the best-scoring against
    the combined embedding wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..generators import DEFAULT_GENERATOR
from ..invert import InversionResult, invert, invert_many
from ..invert.inputs import default_bank_source, resolve_bank
from ..spaces import Space, load_space
from .merge import MergeResult, merge_many
from .terms import Term, combine_vectors, embed_terms, expression

MODES = ("embedding", "text")
# Short runs: arithmetic inverts several inputs, and the loop's gain flattens after a few steps (README figures).
DEFAULT_STEPS = 3
DEFAULT_REQUESTED = 20


@dataclass
class ArithmeticResult:
    expression: str
    mode: str
    text: str  # the combination in words
    score: float  # cosine of the text's embedding with the combined target
    target: np.ndarray  # the combined embedding (dim,)
    parts: list[tuple[float, str]] = field(default_factory=list)  # text mode: (weight, text) of each term
    inversions: list[InversionResult | None] = field(default_factory=list)  # text mode: per term (None for texts)
    merge: MergeResult | None = None  # text mode
    inversion: InversionResult | None = None  # embedding mode

    def to_dict(self) -> dict:
        data = {
            "expression": self.expression, "mode": self.mode, "text": self.text, "score": self.score,
            "parts": [{"weight": weight, "text": text} for weight, text in self.parts],
        }
        if self.merge is not None:
            data["merge"] = {
                "source": self.merge.source, "error": self.merge.error,
                "candidates": [{"score": s, "text": t, "source": src} for s, t, src in self.merge.candidates],
            }
        if self.inversion is not None:
            data["inversion"] = self.inversion.to_dict()
        return data


def arith(
    terms: Sequence[Term],
    *,
    space: str | Space = "minibind",
    mode: str = "embedding",
    bank=None,
    generator=DEFAULT_GENERATOR,
    merge_generator="llama.cpp",
    merges: int = 5,
    steps: int | None = DEFAULT_STEPS,
    requested: int | None = DEFAULT_REQUESTED,
    seed: int = 0,
    **invert_options,
) -> ArithmeticResult:
    """Combine `terms` (see unembed.arithmetic.terms) in `space` and put the result into words.

    bank: where embedding-mode inversion starts (default: the space's image captions); text mode
    inverts each term from its own modality's default bank. generator/steps/requested and
    `invert_options` go to `unembed.invert`; merge_generator writes `merges` merges in text mode.
    """
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}; got {mode!r}.")
    space = load_space(space)
    vectors = embed_terms(terms, space)
    target = combine_vectors(vectors, [term.weight for term in terms])
    options = dict(space=space, generator=generator, steps=steps, requested=requested, seed=seed, **invert_options)
    if mode == "embedding":
        result = invert(target, bank=resolve_bank(bank or default_bank_source("image", space), space), modality="image", **options)
        return ArithmeticResult(expression(terms), mode, result.text, result.score, target, inversion=result)

    if not any(term.weight > 0 for term in terms):
        raise InputError("text mode merges what the terms add, but every weight is negative. Add a term with a positive weight.")
    inversions: list[InversionResult | None] = [None] * len(terms)
    for modality in ("image", "audio"):
        picked = [i for i, term in enumerate(terms) if (term.modality == "vector" and modality == "image") or term.modality == modality]
        if picked:
            bank_for = resolve_bank(default_bank_source(modality, space), space)
            for index, result in zip(picked, invert_many(vectors[picked], bank=bank_for, modality=modality, **options)):
                inversions[index] = result
    parts = [
        (term.weight, term.item if term.modality == "text" else inversion.text)
        for term, inversion in zip(terms, inversions)
    ]
    merged = merge_many([parts], target[None], space=space, generator=merge_generator, requested=merges, seed=seed)[0]
    return ArithmeticResult(expression(terms), mode, merged.text, merged.score, target, parts, inversions, merge=merged)
