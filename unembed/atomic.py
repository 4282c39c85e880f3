"""Atomic file writes: write a temporary sibling, then os.replace, so readers never see half a file."""

from __future__ import annotations

import json
import os
import tempfile
from io import BytesIO
from pathlib import Path

import numpy as np

from .errors import WriteError
from .registry import require


def write_error(path: str | os.PathLike, error: OSError) -> WriteError:
    """The one message for a write that the system refused: what, where, why, and the fix."""
    reason = error.strerror or str(error)
    blocking = next((parent for parent in Path(path).parents if parent.exists()), None)
    if blocking is not None and not blocking.is_dir():
        reason = f"{blocking} is a file, not a folder"
    return WriteError(
        f"cannot write {str(path)!r} ({reason}). Choose a path in a folder you can write to, "
        "with free space (or fix the folder's permissions)."
    )


def check_writable(path: str | os.PathLike) -> Path:
    """`path`, unless `write_bytes` would refuse it whatever the data: a folder, a link, a device or a FIFO, or a path
    under a file. Commands ask before their work, so a bad output path costs nothing (the write checks again)."""
    path = Path(path)
    try:
        _refuse_unwritable(path)
        blocking = next((parent for parent in path.parents if parent.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise NotADirectoryError(20, f"{blocking} is a file, not a folder")
        if blocking is not None:  # a file made and removed there: permissions alone pass root, and /proc takes none
            handle, trial = tempfile.mkstemp(dir=blocking, prefix=".unembed-write-check.")
            os.close(handle)
            os.unlink(trial)
    except OSError as error:
        raise write_error(path, error) from error
    return path


def _refuse_unwritable(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(21, "it is a folder; give a file name")
    # The new file is renamed into place: over a device, a FIFO or a link that would replace it, not write to it.
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise FileExistsError(17, "it is a link, a device or a FIFO, which unembed would replace; give a regular file's path")


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    try:
        _refuse_unwritable(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as error:
        raise write_error(path, error) from error
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise write_error(path, error) from error
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2) + "\n")


def save_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    buffer = BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return write_bytes(path, buffer.getvalue())


def save_png(path: str | os.PathLike, image) -> Path:
    """A PIL image as PNG."""
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return write_bytes(path, buffer.getvalue())


def save_parquet(path: str | os.PathLike, table, *, metadata: dict[str, str] | None = None) -> Path:
    """A pyarrow Table as Parquet; `metadata` joins the schema's key-value metadata."""
    parquet = require("pyarrow.parquet", package="pyarrow", needed_by="writing Parquet files")
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    buffer = BytesIO()
    parquet.write_table(table, buffer)
    return write_bytes(path, buffer.getvalue())


def save_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> Path:
    """Float samples in [-1, 1] as 16-bit PCM WAV (needs soundfile)."""
    soundfile = require("soundfile", extra="minibind", needed_by="writing WAV files")
    buffer = BytesIO()
    soundfile.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    return write_bytes(path, buffer.getvalue())
