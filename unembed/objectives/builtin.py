"""The built-in objectives on text embeddings: cosine, direction, contrast, set and probe."""

from __future__ import annotations

import numpy as np

from .. import checks
from ..errors import InputError
from .base import Objective, group, no_argument, one_vector

SET_MODES = ("mean", "min")


class Cosine(Objective):
    """Cosine of the text with a target vector: the inversion of one embedding (the default)."""

    ranked_by_index = True

    def __init__(self, target, *, space: str | None = None):
        super().__init__()
        self.target = one_vector(target, "the cosine objective's target")
        self.dim, self.space, self.spec = len(self.target), space, "cosine"

    def query(self) -> np.ndarray:
        return self.target

    def _score(self, vectors):
        return vectors @ self.target


class Direction(Objective):
    """Projection of the text on a unit direction: what a direction (a difference of embeddings) means.

    baseline: vectors (e.g. the bank's texts) whose mean is taken off the text embedding first, so the
    score is cos(text - mean(baseline), direction): a generic text, near the baseline's mean, does not
    win by leaning on what every text shares.
    """

    def __init__(self, direction, *, baseline=None, space: str | None = None):
        super().__init__()
        self.direction = one_vector(direction, "the direction")
        self.dim, self.space = len(self.direction), space
        self.centre = None if baseline is None else group(baseline, "the direction's baseline", self.dim).mean(axis=0)
        self.spec = "direction" if baseline is None else "direction:centred"

    def query(self) -> np.ndarray:
        return self.direction

    def _score(self, vectors):
        if self.centre is None:
            return vectors @ self.direction
        centred = vectors - self.centre
        norms = np.linalg.norm(centred, axis=1)
        # A text exactly at the baseline's mean has no direction of its own: it scores 0.
        return np.divide(centred @ self.direction, norms, out=np.zeros(len(vectors)), where=norms > 0)


class Contrast(Objective):
    """Close to A, far from B: cos(text, a) - weight * cos(text, b). A and B are vectors or groups (their mean)."""

    def __init__(self, a, b, *, weight: float = 1.0, space: str | None = None):
        super().__init__()
        self.a = _mean_direction(group(a, "group A (close to)"))
        self.b = _mean_direction(group(b, "group B (far from)", len(self.a)))
        self.weight = checks.number(weight, "the contrast's weight")
        if self.weight < 0:
            raise InputError(f"the contrast's weight must be 0 or more (it is how much B repels); got {weight}. Swap A and B to attract B.")
        self.dim, self.space, self.spec = len(self.a), space, "contrast"

    def query(self) -> np.ndarray:
        return _mean_direction((self.a - self.weight * self.b)[None, :], fallback=self.a)

    def _score(self, vectors):
        return vectors @ self.a - self.weight * (vectors @ self.b)


class Set(Objective):
    """What a group of vectors shares: the mean cosine with its members, or the worst member's ("min")."""

    def __init__(self, vectors, *, mode: str = "mean", space: str | None = None):
        super().__init__()
        if mode not in SET_MODES:
            raise InputError(f"the set objective's mode must be one of {', '.join(SET_MODES)}; got {mode!r}.")
        self.members = group(vectors, "the set's vectors")
        self.mode, self.dim, self.space, self.spec = mode, self.members.shape[1], space, f"set:{mode}"

    def query(self) -> np.ndarray:
        return _mean_direction(self.members, fallback=self.members[0])

    def _score(self, vectors):
        cosines = vectors @ self.members.T
        return cosines.mean(axis=1) if self.mode == "mean" else cosines.min(axis=1)


class Probe(Objective):
    """A linear probe w.x + b on the unit text embedding (e.g. a classifier's logit for one class)."""

    def __init__(self, weights, bias: float = 0.0, *, space: str | None = None):
        super().__init__()
        # Checked like a vector (finite, non-zero, one row) but kept at its own scale: the probe's value is the score.
        self.unit = one_vector(weights, "the probe's weights")
        self.weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        self.bias = checks.number(bias, "the probe's bias")
        self.dim, self.space, self.spec = len(self.weights), space, "probe"

    def query(self) -> np.ndarray:
        return self.unit

    def _score(self, vectors):
        return vectors @ self.weights + self.bias


def _mean_direction(rows: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """The unit mean of `rows`; `fallback` where the mean is zero (members that cancel out)."""
    mean = rows.mean(axis=0)
    norm = np.linalg.norm(mean)
    if norm > 1e-12:
        return mean / norm
    if fallback is None:
        raise InputError("the group's vectors cancel out (their mean is zero), so the group has no direction. Drop the opposing members.")
    return fallback


def load_cosine(argument: str, *, target, space=None) -> Cosine:
    no_argument("cosine", argument)
    return Cosine(target, space=space)


def load_direction(argument: str, *, direction, baseline=None, space=None) -> Direction:
    if argument not in ("", "centred"):
        raise InputError(f"direction takes no argument or 'centred' (with baseline=); got {argument!r}.")
    if argument == "centred" and baseline is None:
        raise InputError("direction:centred needs baseline= (vectors, e.g. the bank's text embeddings).")
    return Direction(direction, baseline=baseline, space=space)


def load_contrast(argument: str, *, a, b, weight: float = 1.0, space=None) -> Contrast:
    no_argument("contrast", argument)
    return Contrast(a, b, weight=weight, space=space)


def load_set(argument: str, *, vectors, space=None) -> Set:
    return Set(vectors, mode=argument or "mean", space=space)


def load_probe(argument: str, *, weights, bias: float = 0.0, space=None) -> Probe:
    no_argument("probe", argument)
    return Probe(weights, bias, space=space)
