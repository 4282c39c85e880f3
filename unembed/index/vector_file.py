"""Bank vectors on disk: one float32 `.npy` of (count, dim) unit rows, written block by block, read by block or by row.

A bank whose index spec ends in RFlat keeps its full vectors in such a file (vectors.npy) and re-ranks each query's
shortlist from it (`rerank`), reading only the shortlist's rows: a bank whose vectors do not fit in RAM is built and
searched all the same. Every read is a plain read into ordinary memory, freed when done: the file's pages stay in the
system's page cache, shared and reclaimable. (A memory map would do the same, but keep every page it touched, and the
pages the kernel maps around each, counted in the process's resident memory: 4 GB more after 200 searches of a
10M-caption bank.)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ..errors import InputError

BLOCK_ROWS = 65_536
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
_UNIT_TOLERANCE = 1e-3  # float32 rows normalised in float64 are unit to ~1e-7; 1e-3 only catches rows never normalised


class VectorFile:
    """A float32 (count, dim) `.npy` file, opened without reading its rows. `vectors[a:b]` reads rows a..b-1;
    `vectors[ids]` (an integer array) gathers rows (`take`); `blocks()` walks the file. `unit_rows_checked`: its rows
    are known to be unit rows (written by `write_vector_file`, or checked once), so no pass checks them again."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            with open(self.path, "rb") as file:
                version = np.lib.format.read_magic(file)
                if version not in _HEADER_READERS:
                    raise ValueError(f"npy format version {version} is not one numpy writes for such arrays")
                shape, fortran, dtype = _HEADER_READERS[version](file)
                self.offset = file.tell()
                size = os.fstat(file.fileno()).st_size
        except OSError as error:
            raise InputError(f"cannot read vectors file {self.path} ({error.strerror}).") from error
        except ValueError as error:
            raise InputError(f"{self.path} is not a numpy .npy file ({error}).") from error
        if dtype != np.dtype("<f4") or fortran or len(shape) != 2 or 0 in shape:
            raise InputError(
                f"{self.path} holds a {dtype} array of shape {shape}{' (Fortran order)' if fortran else ''}; bank vectors are "
                "a C-order float32 (count, dim) array. Write them with unembed.index.write_vector_file."
            )
        self.shape = (int(shape[0]), int(shape[1]))
        promised = self.offset + 4 * self.shape[0] * self.shape[1]
        if size != promised:
            raise InputError(f"{self.path} is {size:,} bytes, not the {promised:,} its header promises (cut short?).")
        self.unit_rows_checked = False

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def dim(self) -> int:
        return self.shape[1]

    def __repr__(self) -> str:
        return f"VectorFile({str(self.path)!r}, shape={self.shape})"

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                raise IndexError("a VectorFile reads contiguous rows; use an array of ids for others")
            return self._read(start, max(start, stop))
        return self.take(np.asarray(key))

    def _read(self, start: int, stop: int) -> np.ndarray:
        with open(self.path, "rb") as file:
            file.seek(self.offset + 4 * self.dim * start)
            rows = np.fromfile(file, dtype=np.float32, count=(stop - start) * self.dim)
        if len(rows) != (stop - start) * self.dim:
            raise InputError(f"{self.path} was cut short while being read. Build the bank again.")
        return rows.reshape(stop - start, self.dim)

    def take(self, ids: np.ndarray) -> np.ndarray:
        """Rows `ids` (any order, repeats allowed): one read per run of consecutive ids, in file order."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) and not (0 <= ids.min() and ids.max() < len(self)):
            raise IndexError(f"row ids must be in 0..{len(self) - 1}; got {ids.min()}..{ids.max()}")
        order = np.argsort(ids, kind="stable")
        ordered = ids[order]
        rows = np.empty((len(ids), self.dim), dtype=np.float32)
        run_starts = [0, *(np.flatnonzero(np.diff(ordered) != 1) + 1).tolist(), len(ids)]
        row_bytes = 4 * self.dim
        with open(self.path, "rb", buffering=0) as file:
            for start, stop in zip(run_starts[:-1], run_starts[1:], strict=True):
                data = os.pread(file.fileno(), (stop - start) * row_bytes, self.offset + int(ordered[start]) * row_bytes)
                if len(data) != (stop - start) * row_bytes:
                    raise InputError(f"{self.path} was cut short while being read. Build the bank again.")
                rows[order[start:stop]] = np.frombuffer(data, dtype=np.float32).reshape(stop - start, self.dim)
        return rows

    def blocks(self, rows: int = BLOCK_ROWS, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Rows `start` to `stop` (default: all) in blocks of `rows`."""
        stop = len(self) if stop is None else stop
        for first in range(start, stop, rows):
            yield self._read(first, min(stop, first + rows))

    def check_unit_rows(self, what: str = "bank vectors") -> None:
        """Every row finite and of unit length (one pass over the file), as a bank's vectors must be."""
        if self.unit_rows_checked:
            return
        for number, block in enumerate(self.blocks()):
            norms = np.linalg.norm(block.astype(np.float64), axis=1)
            bad = ~(np.abs(norms - 1) <= _UNIT_TOLERANCE)  # NaN rows fail too
            if bad.any():
                row = number * BLOCK_ROWS + int(np.flatnonzero(bad)[0])
                raise InputError(
                    f"{what} in {self.path}: row {row} has norm {norms[bad][0]:.6g}, not 1. Bank vectors are unit rows: write "
                    "them with unembed.index.write_vector_file, which normalises each block."
                )
        self.unit_rows_checked = True


def write_vector_file(path: str | os.PathLike, blocks: Iterable[np.ndarray], count: int, dim: int) -> VectorFile:
    """Stream `blocks` of (rows, dim) vectors, `count` rows in all, into a float32 `.npy` at `path`, each row scaled to
    unit length (`unembed.vectors.unit_rows`: NaN, inf, zero or other-width rows are errors). Never more than one
    block in memory. The caller makes the write atomic (a bank writes into its staging folder)."""
    from ..vectors import unit_rows

    written = 0
    with open(path, "wb") as file:
        np.lib.format.write_array_header_1_0(file, {"descr": "<f4", "fortran_order": False, "shape": (count, dim)})
        for block in blocks:
            rows = unit_rows(block, dim, what="bank vectors")
            if written + len(rows) > count:
                raise InputError(f"more than the {count:,} vectors announced were given for {path}.")
            file.write(rows.tobytes())
            written += len(rows)
    if written != count:
        raise InputError(f"{written:,} vectors were given for {path}, not the {count:,} announced.")
    vectors = VectorFile(path)
    vectors.unit_rows_checked = True  # unit_rows made them so
    return vectors


def rerank(
    vectors: VectorFile | ShardedVectors | np.ndarray, queries: np.ndarray, shortlist: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best of each query's `shortlist` ids (-1 = none) by exact inner product with its full vector: FAISS's
    RFlat re-ranking, with the vectors read from wherever they are (a file: only the shortlisted rows)."""
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    for row, (query, candidates) in enumerate(zip(queries, shortlist, strict=True)):
        candidates = candidates[candidates >= 0]
        if not len(candidates):
            continue
        exact = (vectors[candidates] @ query).astype(np.float32)  # a VectorFile reads the rows in file order itself
        best = np.argsort(-exact, kind="stable")[:k]
        scores[row, : len(best)], ids[row, : len(best)] = exact[best], candidates[best]
    return scores, ids


class ShardedVectors:
    """The vectors of a sharded bank's shards as one (count, dim) whole: global row ids run through the shards in
    order, and `vectors[ids]` gathers each id from its shard's file."""

    def __init__(self, parts: list[VectorFile]):
        self.parts = parts
        self.starts = np.cumsum([0, *(len(part) for part in parts)])
        self.shape = (int(self.starts[-1]), parts[0].dim)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, ids) -> np.ndarray:
        ids = np.asarray(ids)
        owners = np.searchsorted(self.starts, ids, side="right") - 1
        rows = np.empty((len(ids), self.shape[1]), dtype=np.float32)
        for owner in np.unique(owners):
            mine = owners == owner
            rows[mine] = self.parts[owner].take(ids[mine] - self.starts[owner])
        return rows
