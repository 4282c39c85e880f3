"""A job's targets, read and checked before any work: ids and unit vectors (media embedded with the space).

Inputs: a `.npy` (n, dim) (ids: row numbers); a Parquet or JSONL file with an `id` column and either a
`vector` column (list of floats) or a `path` column (image/audio files, relative to the file's folder);
or a folder of images or audio (ids: paths relative to the folder).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from ..errors import InputError
from ..integrity import sha256_file
from ..paths import refuse_special
from ..spaces import Space, modality_of
from ..vectors import load_vectors, unit_rows

TABLE_SUFFIXES = (".parquet", ".jsonl")


@dataclass(frozen=True)
class Targets:
    """ids (unique strings, in input order), vectors (float32 unit rows), the modality of media inputs
    (None for vectors) and a digest of what was read (ids and vectors, or ids and media files)."""

    ids: list[str]
    vectors: np.ndarray
    modality: str | None
    digest: str


def read_targets(path: str | os.PathLike, space: Space, *, progress: bool = False) -> Targets:
    """The targets at `path`, checked against `space` (vector width), media embedded with it in batches."""
    path = refuse_special(path, "targets file")
    if path.is_dir():
        files = sorted(file for file in path.rglob("*") if file.is_file() and not _hidden(file.relative_to(path)))
        if not files:
            raise InputError(f"{path} is an empty folder. Give a folder of images or audio files.")
        return _media([file.relative_to(path).as_posix() for file in files], files, space, str(path), progress)
    if not path.is_file():
        raise InputError(f"no such targets file or folder: {path}. Give a .npy, .parquet or .jsonl file, or a folder of media.")
    if path.suffix.lower() == ".npy":
        array = load_vectors(path)
        if array.ndim != 2:
            raise InputError(f"{path} holds an array of shape {array.shape}; targets are (n, dim). Save the vectors as one 2-D array.")
        return _vectors([str(i) for i in range(len(array))], array, space, str(path))
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(
            f"cannot read targets from {path}: its extension {path.suffix or '(none)'!r} is not .npy, .parquet or .jsonl. "
            "Give one of those, or a folder of images or audio."
        )
    table = _read_table(path)
    ids = _ids(table, path)
    has_vector, has_path = "vector" in table.column_names, "path" in table.column_names
    if has_vector == has_path:
        raise InputError(
            f"{path} needs exactly one of the columns 'vector' (the embeddings) or 'path' (media files to embed); "
            f"it has {', '.join(table.column_names)}. Keep one of them."
        )
    if has_vector:
        try:
            rows = table.column("vector").to_pylist()
            array = np.array(rows, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise InputError(
                f"the 'vector' column of {path} is not one list of numbers per row, all of one length ({error}). "
                "Write each embedding as a list of floats of the space's width."
            ) from error
        if array.ndim != 2:
            raise InputError(f"the 'vector' column of {path} is not one list of numbers per row, all of one length.")
        return _vectors(ids, array, space, str(path))
    names = table.column("path").to_pylist()
    if any(not isinstance(name, str) or not name for name in names):
        raise InputError(f"the 'path' column of {path} has empty or non-text entries. Give a file path on every row.")
    files = [path.parent / name for name in names]
    for file in files:  # a FIFO or a device named there is not missing: say what it is
        refuse_special(file, f"the media file named in {path}")
    missing = [str(file) for file in files if not file.is_file()]
    if missing:
        raise InputError(
            f"{len(missing)} media file(s) named in {path} do not exist, e.g. {missing[0]}. "
            "Paths are relative to the targets file's folder; fix them or the column."
        )
    return _media(ids, files, space, str(path), progress)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _read_table(path: Path) -> pa.Table:
    try:
        table = pq.read_table(path) if path.suffix.lower() == ".parquet" else pa_json.read_json(path)
    except (pa.ArrowException, OSError) as error:
        kind = "Parquet" if path.suffix.lower() == ".parquet" else "JSON Lines (one JSON object per line)"
        raise InputError(f"cannot read {path} as {kind}: {error}. Check that the file is complete and of that format.") from error
    if table.num_rows == 0:
        raise InputError(f"{path} holds no rows. Give at least one target.")
    return table


def _ids(table: pa.Table, path: Path) -> list[str]:
    if "id" not in table.column_names:
        raise InputError(f"{path} has no 'id' column (columns: {', '.join(table.column_names)}). Add one naming each target.")
    ids = table.column("id").to_pylist()
    if any(value is None for value in ids):
        raise InputError(f"{path} has rows without an id. Give every row an id.")
    ids = [str(value) for value in ids]
    seen: set[str] = set()
    repeats: dict[str, None] = {}  # in the order of their second occurrence
    for value in ids:
        if value in seen:
            repeats[value] = None
        seen.add(value)
    repeated = list(repeats)
    if repeated:
        raise InputError(f"{path} has {len(repeated)} duplicate id(s), e.g. {', '.join(map(repr, repeated[:5]))}. Make each id unique.")
    return ids


def _vectors(ids: list[str], array: np.ndarray, space: Space, source: str) -> Targets:
    if len(array) == 0:
        raise InputError(f"{source} holds no vectors. Give at least one target.")
    if array.shape[1] != space.dim:
        raise InputError(
            f"the vectors in {source} are {array.shape[1]}-d but space {space.spec!r} makes {space.dim}-d ones. "
            "Give vectors made with that space, or choose the space that made them with --space."
        )
    vectors = unit_rows(array, space.dim, what=f"target vector of {source}")
    digest = hashlib.sha256("\n".join(ids).encode("utf-8") + b"\0" + vectors.tobytes())
    return Targets(ids, vectors, None, digest.hexdigest())


def _media(ids: list[str], files: list[Path], space: Space, source: str, progress: bool) -> Targets:
    modalities = {modality_of(file) for file in files}
    if len(modalities) > 1:
        raise InputError(
            f"{source} mixes {' and '.join(sorted(modalities))} files; a job inverts one modality (its prompt and "
            "MILS's settings). Put each modality in its own folder or file and run one job for each."
        )
    modality = modalities.pop()
    digest = hashlib.sha256()
    for name, file in zip(ids, files, strict=True):
        digest.update(f"{name}\0{sha256_file(file)}\n".encode())
    step = max(int(space.batch_size), 1)
    with tqdm(total=len(files), desc=f"embed {modality}", unit=modality, disable=not progress) as bar:
        chunks = []
        for start in range(0, len(files), step):
            chunks.append(space.embed(modality, files[start : start + step]))
            bar.update(len(chunks[-1]))
    return Targets(ids, np.concatenate(chunks), modality, digest.hexdigest())
