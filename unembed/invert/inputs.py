"""Turning what the user gave (a vector file, a bank name or folder) into loop inputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..spaces import Space


def load_vector(path: str | os.PathLike) -> np.ndarray:
    """A float vector (dim,) or batch (n, dim) from a .npy file (never unpickled)."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read a vector from {path}: {error}. Give a .npy file saved with numpy.save.") from error


def default_bank_source(modality: str, space: Space) -> str:
    """MILS's captions of the modality; MiniBind's own world captions when inverting MiniBind."""
    family = "minibind" if space.spec.startswith("minibind") else "mils"
    return f"{family}-{'audio' if modality == 'audio' else 'image'}"


def bank_cache_dir(source: str, space: Space) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "unembed" / "banks"
    safe = "".join(character if character.isalnum() or character in "-_." else "_" for character in f"{source}-{space.spec}")
    return root / safe


def resolve_bank(bank, space: Space):
    """A Bank as is; a bank folder loaded (and checked against `space`); a named source or caption
    file built once with `space` and cached under ~/.cache/unembed/banks (rebuilt when its captions change)."""
    from ..index import build_bank, load_bank

    if not isinstance(bank, (str, os.PathLike)):
        return bank
    path = Path(bank)
    if path.is_dir():
        return load_bank(path, space=space)
    # The cache is ours: a bank left by an older version of the file or source is replaced, not an error.
    cache_dir = bank_cache_dir(path.name if path.is_file() else str(bank), space)
    return build_bank([str(bank)], space, out=cache_dir, overwrite=True)
