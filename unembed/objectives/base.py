"""The objective contract: texts -> one score per text, higher is better.

An objective scores texts through their embeddings: the loop binds it to its text-embedding cache
(`bind`), so no text is encoded twice, and an objective implements `_score(vectors)` on unit rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..errors import InputError, ObjectiveError
from ..registry import split_spec
from ..vectors import unit_rows


class Embedder(Protocol):
    """What an objective embeds texts with: the loop's `TextEmbeddingCache` (or any `embed(texts)` -> unit rows)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class Objective(ABC):
    """A scalar score per text, higher is better.

    spec: the registry string (`NAME[:ARGUMENT]`; vectors are options, so they are not in it).
    dim: the width of the space it scores in; space: that space's spec when the objective needs one
    space in particular (None: any space of width `dim`). `query()` is the vector the bank's index
    is searched with before its candidates are re-ranked by the objective.
    """

    spec: str = ""
    dim: int
    space: str | None = None
    # True when the bank index's score of a text already is the objective's (cosine to the query),
    # so the bootstrap need not re-encode the index's candidates.
    ranked_by_index: bool = False

    def __init__(self):
        self.embedder: Embedder | None = None

    @property
    def name(self) -> str:
        return split_spec(self.spec)[0]

    @abstractmethod
    def query(self) -> np.ndarray:
        """A unit vector (dim,): where in the space the texts this objective favours lie."""

    @abstractmethod
    def _score(self, vectors: np.ndarray) -> np.ndarray:
        """One score per unit row of `vectors` (n, dim), float64."""

    def bind(self, embedder: Embedder) -> Objective:
        """Embed texts with `embedder` from now on (the loop gives its cache). Returns self."""
        self.embedder = embedder
        return self

    def check(self, space) -> None:
        """Refuse a space this objective cannot score in (another width, or not the space it needs)."""
        if self.dim != space.dim:
            raise InputError(
                f"objective {self.spec!r} is {self.dim}-d but space {space.spec!r} makes {space.dim}-d embeddings. "
                "Build the objective from vectors of the same space."
            )
        if self.space is not None and self.space != space.spec:
            raise InputError(f"objective {self.spec!r} scores in space {self.space!r}, not {space.spec!r}. Invert in {self.space!r}.")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.embedder is None:
            raise ObjectiveError(
                f"objective {self.spec!r} has no embedder. Call objective.bind(unembed.spaces.cache_for(space)) "
                "before scoring outside the loop (invert_many binds it)."
            )
        return self.embedder.embed(list(texts))

    def score_embedded(self, vectors: np.ndarray) -> np.ndarray:
        """Scores of texts already embedded by this objective's embedder (one batch shared by many objectives)."""
        return np.asarray(self._score(np.asarray(vectors, dtype=np.float64)), dtype=np.float64).reshape(len(vectors))

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """One float per text, higher is better."""
        return self.score_embedded(self.embed(texts))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r}, dim={self.dim})"


def one_vector(vector, what: str, dim: int | None = None) -> np.ndarray:
    """A caller's single vector as a float64 unit vector (NaN/inf, zero and wrong width refused)."""
    rows = unit_rows(vector, dim, what=what)
    if len(rows) != 1:
        raise InputError(
            f"{what} must be one vector of shape (dim,); got shape {np.shape(vector)}. "
            "Pass one vector, or a group where a group is asked for."
        )
    return rows[0].astype(np.float64)


def group(vectors, what: str, dim: int | None = None) -> np.ndarray:
    """A caller's group of vectors (n, dim) or one vector, as float64 unit rows; an empty group is refused."""
    if np.size(vectors) == 0:
        raise InputError(f"{what} is empty. Give at least one vector in it.")
    return unit_rows(vectors, dim, what=what).astype(np.float64)


def no_argument(name: str, argument: str) -> None:
    if argument:
        raise InputError(
            f"objective {name!r} takes no ':ARGUMENT' (got {argument!r}); pass its vectors as options, e.g. load_objective({name!r}, ...)."
        )
