"""`arith_many(cases, space=..., mode=...)`: combine each case's terms, then say the result in words.

embedding mode: normalise each term, weighted sum, re-normalise, invert the sum with the MILS loop
    (bootstrapped from the space's image captions, so the answer can be drawn).
text mode: invert each non-text term on its own (texts stay as they are), merge the texts into one
    scene description (`merge.merge_many`: LLM merges and rule-based joins, the best-scoring against
    the combined embedding wins).
All cases run together: one encoder batch per modality, one `invert_many` per modality, one merge batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import checks
from ..errors import InputError
from ..index import resolve_bank
from ..inverter import InversionResult, invert_many
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
            "expression": self.expression,
            "mode": self.mode,
            "text": self.text,
            "score": self.score,
            "parts": [{"weight": weight, "text": text} for weight, text in self.parts],
        }
        if self.merge is not None:
            data["merge"] = {
                "source": self.merge.source,
                "error": self.merge.error,
                "candidates": [{"score": s, "text": t, "source": src} for s, t, src in self.merge.candidates],
            }
        if self.inversion is not None:
            data["inversion"] = self.inversion.to_dict()
        return data


def arith(terms: Sequence[Term], **options) -> ArithmeticResult:
    """Combine `terms` (see unembed.arithmetic.terms) in one space and put the result into words; options of `arith_many`."""
    return arith_many([terms], **options)[0]


def arith_many(
    cases: Sequence[Sequence[Term]],
    *,
    space: str | Space = "minibind",
    mode: str = "embedding",
    bank=None,
    generator=None,
    merge_generator="llama.cpp",
    merges: int = 5,
    steps: int | None = DEFAULT_STEPS,
    requested: int | None = DEFAULT_REQUESTED,
    seed: int = 0,
    timeout: float | None = None,
    **invert_options,
) -> list[ArithmeticResult]:
    """One ArithmeticResult per case (a sequence of terms), in order.

    bank: where embedding-mode inversion starts (default: the space's image captions); text mode
    inverts each term from its own modality's caption source. generator/steps/requested and
    `invert_options` go to `unembed.invert_many`; merge_generator writes `merges` merges in text mode.
    """
    if not isinstance(mode, str) or mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}; got {mode!r}.")
    # Checked here as well as by the inverter: with only text terms, text mode never runs it.
    if steps is not None:
        checks.count(steps, "steps", minimum=0)
    if requested is not None:
        checks.count(requested, "requested")
    merges = checks.count(merges, "merges")
    for terms in cases:
        if not terms:
            raise InputError("the combination is empty. Give at least one term, e.g. `scene.png + rain.wav`.")
        if mode == "text" and not any(term.weight > 0 for term in terms):
            raise InputError("text mode merges what the terms add, but every weight is negative. Add a term with a positive weight.")
    space = load_space(space)
    flat = [(case, term) for case, terms in enumerate(cases) for term in terms]
    vectors = embed_terms([term for _, term in flat], space)
    ends = np.cumsum([len(terms) for terms in cases])
    targets = np.stack(
        [combine_vectors(vectors[end - len(terms) : end], [term.weight for term in terms]) for end, terms in zip(ends, cases, strict=True)]
    )
    options = dict(space=space, generator=generator, steps=steps, requested=requested, seed=seed, timeout=timeout, **invert_options)
    if mode == "embedding":
        results = invert_many(targets, bank=resolve_bank(bank, space, "image"), modality="image", **options)
        return [
            ArithmeticResult(expression(terms), mode, result.text, result.score, target, inversion=result)
            for terms, target, result in zip(cases, targets, results, strict=True)
        ]

    inversions: list[InversionResult | None] = [None] * len(flat)
    for modality in ("image", "audio"):
        picked = [i for i, (_, term) in enumerate(flat) if (term.modality == "vector" and modality == "image") or term.modality == modality]
        if picked:
            results = invert_many(vectors[picked], bank=resolve_bank(None, space, modality), modality=modality, **options)
            for index, result in zip(picked, results, strict=True):
                inversions[index] = result
    parts: list[list[tuple[float, str]]] = [[] for _ in cases]
    per_term: list[list[InversionResult | None]] = [[] for _ in cases]
    for (case, term), inversion in zip(flat, inversions, strict=True):
        parts[case].append((term.weight, term.item if inversion is None else inversion.text))  # None: a text term
        per_term[case].append(inversion)
    merged = merge_many(parts, targets, space=space, generator=merge_generator, requested=merges, seed=seed, timeout=timeout)
    return [
        ArithmeticResult(expression(terms), mode, merge.text, merge.score, target, case_parts, case_inversions, merge=merge)
        for terms, target, case_parts, case_inversions, merge in zip(cases, targets, parts, per_term, merged, strict=True)
    ]
