"""Embeddings from callers: read from .npy files (never unpickled) and checked before use."""

from __future__ import annotations

import os
import zipfile

import numpy as np

from .errors import InputError
from .paths import refuse_special


def unit_rows(vectors, dim: int | None = None, *, what: str = "embedding") -> np.ndarray:
    """Return `vectors` as a C-contiguous float32 (n, dim) matrix of unit-length rows.

    A single vector is accepted as shape (dim,). Values are checked and normalised in float64, so a
    vector of huge (1e30, or beyond float32's 3e38) or tiny magnitude keeps its direction instead of
    overflowing to inf or underflowing to zero. Rows that are NaN/inf or all zero cannot be
    normalised, and a wrong width means the vector comes from another space: all are errors.
    """
    try:
        array = np.asarray(vectors)
    except ValueError as error:  # ragged nested lists
        raise InputError(f"{what} is not a rectangular array of numbers ({error}). Pass a 1-D or 2-D float array.") from error
    if array.dtype.kind not in "iuf":
        raise InputError(
            f"{what} must hold real numbers; got an array of {array.dtype} ({array.dtype.kind!r} kind). "
            "Pass floats, e.g. numpy.asarray(vector, dtype=numpy.float32)."
        )
    array = array.astype(np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(
            f"{what} must be one vector (dim,) or a batch (n, dim); got shape {np.shape(vectors)}. Pass a 1-D or 2-D float array."
        )
    if dim is not None and array.shape[1] != dim:
        raise InputError(
            f"{what} has dimension {array.shape[1]} but the space/bank expects {dim}. Embed it with the same space the bank was built with."
        )
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise InputError(
            f"{what} row(s) {np.flatnonzero(bad)[:10].tolist()} contain NaN or inf. "
            "Such vectors have no direction and cannot be searched; check what produced them."
        )
    # Divide by the largest magnitude first: the norm of the scaled row can neither overflow nor underflow.
    scale = np.abs(array).max(axis=1, keepdims=True)
    zero = scale[:, 0] == 0
    if zero.any():
        raise InputError(
            f"{what} row(s) {np.flatnonzero(zero)[:10].tolist()} are all zero and have no direction. Pass a non-zero embedding."
        )
    array = array / scale
    return np.ascontiguousarray(array / np.linalg.norm(array, axis=1, keepdims=True), dtype=np.float32)


def load_vectors(path: str | os.PathLike) -> np.ndarray:
    """A float vector (dim,) or batch (n, dim) from a .npy file; pickles are refused (allow_pickle=False)."""
    path = refuse_special(path, "vector file")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a vector file. Give the .npy file saved with numpy.save().")
    try:
        with open(path, "rb") as file:
            magic = file.read(6)
    except FileNotFoundError as error:
        raise InputError(f"no such vector file: {path}. Save your embedding with numpy.save('{path}', vector).") from error
    except OSError as error:
        raise InputError(f"cannot read {path} ({error.strerror}). Check its permissions.") from error
    if magic != b"\x93NUMPY" and not zipfile.is_zipfile(path):  # a picture, a text file: not numpy's format at all
        raise InputError(f"{path} is not a .npy file (it does not start as numpy.save writes one). Save the vector with numpy.save().")
    if zipfile.is_zipfile(path):  # np.load would hand back an archive of arrays, not one
        try:
            with zipfile.ZipFile(path) as archive:
                names = ", ".join(name.removesuffix(".npy") for name in archive.namelist()[:5]) or "none"
        except (OSError, zipfile.BadZipFile):
            names = "unreadable"
        raise InputError(
            f"{path} is a .npz archive (arrays: {names}), not one vector. Save the embedding alone with "
            f"numpy.save('vector.npy', archive['NAME'])."
        )
    try:
        # Mapped first: a header that claims more than the file holds (100 billion rows in 16 bytes) is refused by its
        # size, instead of allocating what it claims.
        array = np.array(np.load(path, mmap_mode="r", allow_pickle=False))
    except MemoryError as error:
        raise InputError(f"{path} is too large to load into this machine's memory. Give fewer vectors per file.") from error
    except FileNotFoundError as error:
        raise InputError(f"no such vector file: {path}. Save your embedding with numpy.save('{path}', vector).") from error
    except (OSError, ValueError, EOFError) as error:
        raise InputError(f"{path} is not a plain .npy float array ({error}). Save it with numpy.save().") from error
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iuf":
        raise InputError(
            f"{path} holds {getattr(array, 'dtype', type(array).__name__)} values, not numbers. Save a float array with numpy.save()."
        )
    return array
