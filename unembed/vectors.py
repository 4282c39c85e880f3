"""Checks shared by everything that takes an embedding from a caller."""

from __future__ import annotations

import numpy as np

from .errors import InputError


def unit_rows(vectors, dim: int | None = None, *, what: str = "embedding") -> np.ndarray:
    """Return `vectors` as a C-contiguous float32 (n, dim) matrix of unit-length rows.

    A single vector is accepted as shape (dim,). Rows that are NaN/inf or all zero cannot be
    normalised, and a wrong width means the vector comes from another space: all are errors.
    """
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] == 0:
        raise InputError(
            f"{what} must be one vector (dim,) or a batch (n, dim); got shape {np.shape(vectors)}. "
            "Pass a 1-D or 2-D float array."
        )
    if dim is not None and array.shape[1] != dim:
        raise InputError(
            f"{what} has dimension {array.shape[1]} but the space/bank expects {dim}. "
            "Embed it with the same space the bank was built with."
        )
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise InputError(
            f"{what} row(s) {np.flatnonzero(bad)[:10].tolist()} contain NaN or inf. "
            "Check the encoder output; such vectors cannot be searched."
        )
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    zero = norms[:, 0] < 1e-12
    if zero.any():
        raise InputError(
            f"{what} row(s) {np.flatnonzero(zero)[:10].tolist()} are all zero and have no direction. "
            "Pass a non-zero embedding."
        )
    return np.ascontiguousarray(array / norms, dtype=np.float32)
