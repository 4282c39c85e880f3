"""Embeddings from callers: read from .npy files (never unpickled) and checked before use."""

from __future__ import annotations

import os

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


def load_vectors(path: str | os.PathLike) -> np.ndarray:
    """A float vector (dim,) or batch (n, dim) from a .npy file; pickles are refused (allow_pickle=False)."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError as error:
        raise InputError(f"no such vector file: {path}. Save your embedding with numpy.save('{path}', vector).") from error
    except (OSError, ValueError) as error:
        raise InputError(f"{path} is not a plain .npy float array ({error}). Save it with numpy.save().") from error
