"""Caption banks: captions, their embeddings in one space, and a FAISS index, saved as one directory.

    DIR/manifest.json   space spec, dim, count, index factory string, search params, and the size and
                        sha256 of every other file (format 2; format 1 recorded the texts' only)
    DIR/texts.txt       one whitespace-normalised caption per line, in index id order
    DIR/index.faiss     the FAISS index (inner product on unit vectors = cosine)
    DIR/vectors.npy     for an index spec ending in RFlat: the full vectors, float32, which re-rank each query's
                        shortlist (a search reads only the shortlist's rows). index.faiss holds
                        the index before its RFlat, so no build or search needs every vector in RAM

Writes go to a temporary sibling directory that is renamed into place, so a crash never leaves a
half-written bank. A folder is replaced only when it is a bank (our manifest, nothing else in it)
or empty: anything else at the destination is refused, never deleted. One build at a time per
destination: `.DIR.lock` beside it (a file lock, released by the system if the process dies).
Encoding checkpoints each chunk in `.DIR.partial/` under a name that carries the checksum of the
space and the texts it encodes, so an interrupted build resumes and a chunk is never reused for
other texts. Loading checks every file against the manifest.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import shlex
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from tqdm.auto import tqdm

from .. import atomic, checks, jsontext
from ..corpus import GRAMMAR_FILES, CorpusTexts, write_grammar
from ..errors import BankError, InputError, SpaceMismatchError
from ..integrity import file_record, sha256_file
from ..paths import cache_dir, exclusive, safe_name
from ..spaces import Space, load_space
from ..vectors import unit_rows
from ..version import __version__
from .sources import collect_captions, normalise_caption
from .vector_file import BLOCK_ROWS, ShardedVectors, VectorFile, rerank, write_vector_file

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
TEXTS = "texts.txt"
INDEX = "index.faiss"
VECTORS = "vectors.npy"
REFINE = ",RFlat"  # an index spec's exact re-ranking stage, which unembed runs from VECTORS (see vector_file)
BANK_FILES = (MANIFEST, TEXTS, INDEX, VECTORS, *GRAMMAR_FILES)  # the grammar files: edit's corpus statistics (unembed.corpus)
REBUILD = "Rebuild the bank with `unembed bank build --overwrite`."
METRIC = "inner_product"  # the only metric a bank is searched by: cosine, on unit vectors
# Banks of format 1 checksummed only texts.txt: an index swapped under them is searched silently, so they load only
# when the caller says so (load_bank(allow_unverified=True), or this variable set to 1 for every command).
ALLOW_UNVERIFIED = "UNEMBED_ALLOW_UNVERIFIED_BANKS"
MAX_SHARDS = 999
DEFAULT_TRAIN_SIZE = 200_000  # FAISS wants >= 39 points per IVF list: enough for IVF4096


@dataclass
class SearchResult:
    """Per query row: ids and cosine scores best first (-1 / -inf where fewer than k were found)."""

    ids: np.ndarray
    scores: np.ndarray
    texts: list[list[str]]


def texts_sha256(texts: list[str]) -> str:
    return hashlib.sha256(_texts_bytes(texts)).hexdigest()


def _texts_bytes(texts: list[str]) -> bytes:
    return "".join(text + "\n" for text in texts).encode("utf-8")


def make_index(vectors: np.ndarray | VectorFile, spec: str = "Flat", *, train_size: int = DEFAULT_TRAIN_SIZE, seed: int = 0) -> faiss.Index:
    """A FAISS index from an index-factory string, trained on a seeded sample when the type needs it. `vectors` may be
    a VectorFile: it is trained on its sample rows and filled block by block, never read whole."""
    index = trained_index(vectors, spec, train_size=train_size, seed=seed)
    fill_index(index, vectors, spec)
    return index


# Specs on which FAISS aborts or corrupts memory (the process dies: SIGABRT, SIGSEGV) instead of raising: a count of 0
# anywhere (HNSW0, PQ8x0, RR0), a graph degree too small to link (HNSW1, NSG4), and OPQ trained on a few hundred rows.
# Found by building each on random unit vectors; FAISS's own checks catch the rest.
_SPEC_NUMBERS = re.compile(r"([A-Za-z]+)(\d+)")
_LEAST = {"HNSW": 2, "NSG": 8}
OPQ_LEAST_ROWS = 1_000


def refuse_spec_faiss_cannot_take(spec: str, count: int) -> None:
    """Refuse, before FAISS sees it, an index spec on which FAISS kills the process (see _LEAST)."""
    if not isinstance(spec, str):
        raise InputError(f"an index spec is a faiss index-factory string such as 'Flat' or 'IVF4096,SQ8,RFlat'; got {spec!r}.")
    for name, digits in _SPEC_NUMBERS.findall(spec):
        least = _LEAST.get(name.upper(), 1)
        if len(digits) < 19 and int(digits) < least:
            raise InputError(
                f"index {spec!r}: {name}{digits} is {'a count of 0' if int(digits) == 0 else f'below the {least} {name} needs'}, on which "
                f"FAISS stops the process instead of refusing it. Use {name}{max(least, 32) if name.upper() in _LEAST else least} "
                "or more, or 'Flat'."
            )
    if re.search(r"(^|,)OPQ\d", spec) and count < OPQ_LEAST_ROWS:
        raise InputError(
            f"index {spec!r} on {count} captions: FAISS's OPQ training stops the process on a few hundred rows. "
            f"Use OPQ on {OPQ_LEAST_ROWS:,} captions or more, or --index Flat for a small bank."
        )


def trained_index(vectors: np.ndarray | VectorFile, spec: str, *, train_size: int = DEFAULT_TRAIN_SIZE, seed: int = 0) -> faiss.Index:
    """An empty index of `spec`, trained on a seeded sample of `vectors` when the type needs it: the template every
    shard of a bank starts from, so the shards' codes are those one index would hold."""
    refuse_spec_faiss_cannot_take(spec, min(len(vectors), train_size))
    try:
        index = faiss.index_factory(vectors.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    except MemoryError as error:  # e.g. PQ384x24: 2**24 centroids per sub-quantizer
        raise InputError(
            f"FAISS cannot build index {spec!r}: it needs more memory than this machine has. Use fewer or smaller codes "
            "(e.g. PQ48x8) or 'IVF4096,SQ8,RFlat'."
        ) from error
    except RuntimeError as error:
        raise InputError(
            f"FAISS cannot build index {spec!r} ({_faiss_reason(error)}). "
            "Use a faiss index-factory string such as 'Flat', 'HNSW32' or 'IVF4096,SQ8,RFlat'."
        ) from error
    if not index.is_trained:
        rows: slice | np.ndarray = slice(None)
        if len(vectors) > train_size:
            rows = np.sort(np.random.default_rng(seed).choice(len(vectors), train_size, replace=False))
        with _faiss_building(spec, len(vectors)):
            index.train(np.asarray(vectors[rows]))
    return index


def fill_index(index: faiss.Index, vectors: np.ndarray | VectorFile, spec: str, start: int = 0, stop: int | None = None) -> None:
    """Add rows `start` to `stop` (default: all) of `vectors` to `index`, block by block."""
    stop = len(vectors) if stop is None else stop
    with (
        _faiss_building(spec, len(vectors)),
        tqdm(total=stop - start, desc=f"index {spec}", unit="vector", disable=stop - start < 1_000_000) as bar,
    ):
        for first in range(start, stop, BLOCK_ROWS):
            index.add(np.asarray(vectors[first : min(stop, first + BLOCK_ROWS)]))
            bar.update(min(stop, first + BLOCK_ROWS) - first)


@contextlib.contextmanager
def _faiss_building(spec: str, count: int):
    try:
        yield
    except MemoryError as error:  # e.g. HNSW99999999: each vector's links are allocated as it is added
        raise InputError(
            f"FAISS cannot build index {spec!r} on {count} captions: it needs more memory than this machine has. Use "
            "smaller settings (HNSW32, PQ48x8) or 'IVF4096,SQ8,RFlat'."
        ) from error
    except RuntimeError as error:
        # e.g. an IVF index with more lists than captions: k-means cannot make more clusters than points.
        # The IVF hint only where an IVF index's lists are the clusters FAISS could not make (a PQ's are its codebooks).
        clusters = "clusters" in str(error) and "IVF" in spec.upper() and not re.search(r"PQ|x\d", spec)
        hint = " An IVF index needs at least as many captions as lists (FAISS wants 39 per list)." if clusters else ""
        raise InputError(
            f"FAISS cannot build index {spec!r} on {count} captions ({_faiss_reason(error)}).{hint} Use --index Flat for a small bank."
        ) from error


def _faiss_reason(error: RuntimeError) -> str:
    """FAISS errors carry a C++ location prefix; keep the human part after the last ':'."""
    return str(error).strip().splitlines()[-1].rsplit(":", 1)[-1].strip()


SEARCH_LIMITS = {"nprobe": 65_536, "efSearch": 65_536, "k_factor_rf": 1_024, "k_factor": 1_024}


def _number(text: str) -> float:
    """`text` as a number for a limit check; NaN (which no limit admits) when it is none."""
    try:
        return float(text) if len(text) <= 40 else math.inf
    except ValueError:
        return math.nan


def split_refine(spec: str) -> tuple[str, bool]:
    """An index spec without its final RFlat (which a bank runs from vectors.npy), and whether it had one."""
    return (spec[: -len(REFINE)], True) if spec.endswith(REFINE) else (spec, False)


def _checked_settings(params: str) -> list[tuple[str, str]]:
    """`params` ('nprobe=32,k_factor_rf=4') as (name, value) pairs, each checked against SEARCH_LIMITS."""
    if not isinstance(params, str):
        raise InputError(f"search parameters are a string such as 'nprobe=32'; got {params!r}.")
    settings = []
    for setting in filter(None, params.split(",")):
        name, _, value = setting.partition("=")
        # FAISS sizes its search buffers by these: efSearch=2000000000 took 16 GB to search a bank of 4 captions.
        limit = SEARCH_LIMITS.get(name.strip())
        if limit is not None and not 0 < _number(value) <= limit:
            raise InputError(
                f"search parameter {setting!r} must be a positive number up to {limit:,}. Larger ones cost memory and time "
                "and find nothing more."
            )
        settings.append((name.strip(), value.strip()))
    return settings


def set_search_params(index: faiss.Index, params: str) -> None:
    """Apply faiss ParameterSpace settings such as 'nprobe=32,k_factor=4' or 'efSearch=128'."""
    if not params or not _checked_settings(params):
        return
    try:
        faiss.ParameterSpace().set_index_parameters(index, params)  # type: ignore[arg-type]  # FAISS's stub says int; it parses the string
    except RuntimeError as error:
        raise InputError(
            f"search parameters {params!r} do not apply to this index ({_faiss_reason(error)}). "
            "IVF indexes take nprobe, HNSW takes efSearch, a refine stage (RFlat) takes k_factor_rf."
        ) from error


class Bank:
    """Captions searchable by embedding. Build with `build_bank`/`Bank.from_texts`, open with `load_bank`."""

    def __init__(
        self,
        index: faiss.Index,
        texts: list[str],
        manifest: dict,
        path: Path | None = None,
        vectors: np.ndarray | VectorFile | ShardedVectors | None = None,
        shards: list[Bank] | None = None,
    ):
        """`index` answers searches; with `vectors` (an RFlat spec), it is the index before RFlat and each query's
        shortlist of k * k_factor_rf ids is re-ranked exactly from them. A sharded bank's index is a FAISS IndexShards
        over its `shards`' indexes (ids run through the shards in order)."""
        self.index = index
        self.texts = texts
        self.manifest = manifest
        self.path = path
        self.vectors = vectors
        self.shards = shards or []
        self.k_factor_rf = 1
        self._apply_search_params(manifest.get("search_params", ""))

    def _apply_search_params(self, params: str) -> None:
        if self.vectors is None:
            set_search_params(self.index, params)
            return
        # k_factor_rf is the re-ranking's (ours); the rest go to the FAISS index it re-ranks.
        settings = _checked_settings(params)
        self.k_factor_rf = next((int(float(value)) for name, value in settings if name == "k_factor_rf"), 1)
        set_search_params(self.index, ",".join(f"{name}={value}" for name, value in settings if name != "k_factor_rf"))

    @classmethod
    def from_texts(
        cls, texts: Iterable[str], space: Space | str, *, index: str = "Flat", search_params: str = "", batch_size: int = 256
    ) -> Bank:
        """An in-memory bank (nothing written) of the normalised, de-duplicated `texts`."""
        space = load_space(space)
        batch_size = checks.count(batch_size, "batch_size")
        captions = collect_captions(texts=texts)
        with _progress(len(captions), space) as bar:
            vectors = encode_captions(captions, space, batch_size, bar)
        return cls.from_vectors(captions, vectors, space, index=index, search_params=search_params)

    @classmethod
    def from_vectors(
        cls, texts: list[str], vectors: np.ndarray | VectorFile, space: Space, *, index: str = "Flat", search_params: str = ""
    ) -> Bank:
        """A bank of `texts` with their `vectors` (one row per text, in `space`): an array, or a VectorFile for vectors
        that need not fit in RAM (the index is trained on a sample and filled block by block)."""
        texts = list(texts)
        vectors = _checked_vectors(texts, vectors, space)
        base, refines = split_refine(index)
        manifest = _manifest(space, texts, index, search_params)
        return cls(make_index(vectors, base), texts, manifest, vectors=vectors if refines else None)

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def space_spec(self) -> str:
        return self.manifest["space"]

    def __len__(self) -> int:
        return len(self.texts)

    def digest(self) -> str:
        """sha256 of what this bank answers with, which a run records: its captions (their sha256), the space that
        encodes them, its index and search settings. Not the files' bytes: they hold the build time, and FAISS and
        the space may write other low bits on another node or after a rebuild, for the same answers. A bank
        in memory (`from_texts`) and the same bank saved have one digest."""
        answers = {key: self.manifest.get(key) for key in ("space", "dim", "count", "index", "search_params", "texts_sha256")}
        return hashlib.sha256(json.dumps(answers, sort_keys=True).encode("utf-8")).hexdigest()

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"Bank(space={self.space_spec!r}, count={len(self)}, index={self.manifest['index']!r}{where})"

    def set_search_params(self, params: str) -> None:
        self._apply_search_params(params)
        self.manifest["search_params"] = params

    def to_gpu(self) -> Bank:
        """Move the index to every visible GPU (faiss-gpu); search parameters carry over."""
        if not hasattr(faiss, "index_cpu_to_all_gpus") or faiss.get_num_gpus() == 0:
            raise BankError(
                "this faiss build has no GPU support or sees no GPU. On a CUDA machine: "
                "`pip uninstall faiss-cpu && pip install 'unembed[gpu]'`; otherwise search on the CPU."
            )
        self.index = faiss.index_cpu_to_all_gpus(self.index)
        self._apply_search_params(self.manifest.get("search_params", ""))
        return self

    def search(self, vectors, k: int = 10, *, exclude: Collection[str] | None = None) -> SearchResult:
        """Top-`k` captions for each query vector (one (dim,) vector or an (n, dim) batch).

        `k` is capped at the bank's size (a bank of 3 answers 3, not k, columns). `exclude` drops
        captions by text (e.g. a held-out target) while still returning `k` hits where it can; a row
        with fewer hits is padded with id -1 and score -inf.
        """
        k = min(checks.count(k, "k"), len(self))
        queries = unit_rows(vectors, self.dim, what="query")
        if exclude is not None and (isinstance(exclude, str) or not all(isinstance(text, str) for text in exclude)):
            raise InputError("exclude must be a collection of caption texts, e.g. ['a dog on a beach'].")
        exclude = set(exclude or ())
        scores, ids = self._search(queries, min(k + len(exclude), len(self)))
        if exclude:
            scores, ids = _drop_excluded(scores, ids, self.texts, exclude, k)
        ids, scores = ids[:, :k], scores[:, :k]
        scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32)
        texts = [[self.texts[i] for i in row if i >= 0] for row in ids]
        return SearchResult(ids=ids, scores=scores, texts=texts)

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.vectors is None:
            return self.index.search(queries, k)
        _, shortlist = self.index.search(queries, min(k * self.k_factor_rf, len(self)))
        return rerank(self.vectors, queries, shortlist, k)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False, link_vectors: bool = False) -> Path:
        """Write the bank directory atomically.

        An existing bank there is replaced only with `overwrite`; an empty folder is filled; a file,
        or a folder holding anything that is not a bank's, is refused and left as it is. `link_vectors`: a bank
        whose vectors are a VectorFile on the same file system gets a hard link to it instead of a copy (then
        never change that file in place: the bank's checksum would no longer match).
        """
        path = _destination(path)
        with exclusive(path, "build"):
            return self._write(path, overwrite=overwrite, link_vectors=link_vectors)

    def _write(self, path: Path, *, overwrite: bool, link_vectors: bool = False) -> Path:
        if _claim(path) == "bank" and not overwrite:
            raise BankError(f"{path} already holds a bank. Choose another --out, or pass overwrite=True / --overwrite to replace it.")
        if self.shards:
            raise BankError(f"{self} is sharded: it is written where it is built. To move it, copy its whole folder.")
        with _staging(path) as staging:
            (staging / TEXTS).write_bytes(_texts_bytes(self.texts))
            faiss.write_index(_cpu_index(self.index), str(staging / INDEX))
            stored = (TEXTS, INDEX, *GRAMMAR_FILES)
            if self.vectors is not None:
                _write_vectors(self.vectors, staging / VECTORS, link=link_vectors)
                stored = (TEXTS, INDEX, VECTORS, *GRAMMAR_FILES)
            write_grammar(self.texts, staging)  # so no process that edits with this bank builds it again
            manifest = _write_manifest(staging, self.manifest, stored)
        self.manifest, self.path, self.texts = manifest, path, CorpusTexts(self.texts, path)
        if self.vectors is not None:
            self.vectors = VectorFile(path / VECTORS)
        return path


def _checked_vectors(texts: list[str], vectors: np.ndarray | VectorFile, space: Space) -> np.ndarray | VectorFile:
    """`vectors` as a bank of `texts` in `space` takes them: unit rows of the space's width, one per one-line text."""
    if not texts:
        raise InputError("a bank needs at least one caption; got none.")
    for number, text in enumerate(texts):
        # texts.txt holds one caption per line: a line break inside one would shift every id after it.
        if not isinstance(text, str) or not text or normalise_caption(text) != text or "\x00" in text:
            raise InputError(
                f"text {number} ({text!r}) is not a one-line caption. Pass the texts through "
                "unembed.index.collect_captions(texts=...) first (it normalises whitespace and drops empty ones)."
            )
    if isinstance(vectors, VectorFile):
        if vectors.dim != space.dim:
            raise InputError(f"{vectors.path} holds vectors of dimension {vectors.dim}, but space {space.spec} has {space.dim}.")
        vectors.check_unit_rows()
    else:
        vectors = unit_rows(vectors, space.dim, what="bank vectors")
    if len(texts) != len(vectors):
        raise InputError(f"{len(texts)} texts but {len(vectors)} vectors; give one vector per text.")
    return vectors


def _manifest(space: Space, texts: list[str], index: str, search_params: str) -> dict:
    return {
        "format": FORMAT_VERSION,
        "space": space.spec,
        "dim": space.dim,
        "count": len(texts),
        "index": index,
        "search_params": search_params,
        "metric": METRIC,
        "texts_sha256": texts_sha256(texts),
    }


def _write_manifest(folder: Path, manifest: dict, stored: Iterable[str]) -> dict:
    """`manifest` with the version, the time and the size and sha256 of each `stored` file, written in `folder`."""
    manifest = dict(
        manifest,
        format=FORMAT_VERSION,
        unembed_version=__version__,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        files={name: file_record(folder / name) for name in stored},
    )
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


@contextlib.contextmanager
def _staging(path: Path):
    """A fresh folder beside `path` to write a bank into, moved into place at the end; removed if anything fails."""
    try:
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    except OSError as error:
        raise atomic.write_error(path.parent, error) from error
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a bank is an ordinary shared folder
        yield staging
        _swap_into_place(staging, path)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, (OSError, RuntimeError)) and not isinstance(error, BankError):
            # RuntimeError: faiss.write_index reports a failed write (disk full) that way.
            raise atomic.write_error(path, error if isinstance(error, OSError) else OSError(str(error))) from error
        raise


def _write_vectors(vectors: np.ndarray | VectorFile | ShardedVectors, destination: Path, *, link: bool) -> None:
    """The bank's vectors as `destination`: with `link`, a VectorFile is hard-linked (no copy of what may be many GB);
    anything else is copied block by block."""
    if link and isinstance(vectors, VectorFile):
        try:
            os.link(vectors.path, destination)
            return
        except OSError:  # another file system, or one without hard links
            pass
    blocks = vectors.blocks() if isinstance(vectors, VectorFile) else [np.asarray(vectors[np.arange(len(vectors))])]
    write_vector_file(destination, blocks, len(vectors), vectors.shape[1])


def _drop_excluded(scores, ids, texts, exclude, k):
    kept_ids = np.full((len(ids), k), -1, dtype=np.int64)
    kept_scores = np.full((len(ids), k), -np.inf, dtype=np.float32)
    for row in range(len(ids)):
        keep = [col for col, i in enumerate(ids[row]) if i >= 0 and texts[i] not in exclude][:k]
        kept_ids[row, : len(keep)] = ids[row, keep]
        kept_scores[row, : len(keep)] = scores[row, keep]
    return kept_scores, kept_ids


def _cpu_index(index: faiss.Index) -> faiss.Index:
    return faiss.index_gpu_to_cpu(index) if hasattr(faiss, "index_gpu_to_cpu") and "Gpu" in type(index).__name__ else index


def _destination(out: str | os.PathLike) -> Path:
    """`out` as an absolute path with a folder name (`.` is the current folder, named)."""
    path = Path(os.path.abspath(Path(out).expanduser()))
    if not path.name:
        raise BankError(f"{str(out)!r} is the root of the file system, not a bank folder. Give a folder name, e.g. banks/images.")
    return path


def _claim(path: Path) -> str:
    """What is at `path`: "free" (nothing, or an empty folder), "bank" (a bank and nothing else).

    Anything else is refused here and left untouched: replacing a folder deletes what it holds.
    """
    if path.is_symlink():
        raise BankError(f"{path} is a symbolic link. unembed does not replace links: give the folder it points to, or another --out.")
    if (path.parent / MANIFEST).is_file():
        # Its lock file and folder would sit among the bank's files, which no bank holds: that bank could then not be
        # replaced, and replacing it would delete this one.
        raise BankError(f"{path} is inside the bank {path.parent}. A bank is not a folder for other banks: choose an --out outside it.")
    if not path.exists():
        return "free"
    if not path.is_dir():
        raise BankError(f"{path} is a file, not a bank folder, and unembed never replaces it. Choose another --out.")
    try:
        names = sorted(entry.name for entry in path.iterdir())
    except OSError as error:
        raise BankError(f"cannot look inside {path} ({error.strerror}). Choose another --out.") from error
    if not names:
        return "free"
    try:
        manifest = read_manifest(path)
    except BankError:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise BankError(
            f"{path} is a folder that is not a bank (it holds {shown}), and unembed never replaces such a folder: "
            "it replaces only a bank it wrote, or an empty folder. Choose another --out, e.g. a new folder inside it."
        ) from None
    shards = {entry["path"] for entry in manifest.get("shards", [])}
    foreign = [name for name in names if name not in BANK_FILES and name not in shards]
    for name in sorted(shards & set(names)):  # a shard folder is the bank's only when it holds a bank's files alone
        shard = path / name
        if shard.is_symlink() or not shard.is_dir():
            foreign.append(name)
            continue
        foreign += [f"{name}/{inner}" for inner in sorted(os.listdir(shard)) if inner not in BANK_FILES]
    if foreign:
        raise BankError(
            f"{path} is a bank but also holds {', '.join(foreign[:5])}, which a bank does not; replacing the bank "
            "would delete them. Move them out of the folder, or choose another --out."
        )
    return "bank"


def _swap_into_place(staging: Path, path: Path) -> None:
    if not path.exists():
        os.replace(staging, path)
        return
    retired = path.with_name(f".{path.name}.old-{os.getpid()}")
    os.replace(path, retired)
    os.replace(staging, path)
    shutil.rmtree(retired, ignore_errors=True)


def encode_captions(texts: list[str], space: Space, batch_size: int, bar: tqdm | None = None) -> np.ndarray:
    """The (len(texts), dim) vectors of `texts`, encoded `batch_size` at a time."""
    parts = [np.zeros((0, space.dim), dtype=np.float32)]
    for start in range(0, len(texts), batch_size):
        parts.append(space.embed_text(texts[start : start + batch_size]))
        if bar is not None:
            bar.update(len(parts[-1]))
    return np.concatenate(parts)


def _progress(total: int, space: Space) -> tqdm:
    return tqdm(total=total, desc=f"encode with {space.spec}", unit="text", disable=total < 1024)


def build_bank(
    sources: Iterable[str | os.PathLike] = (),
    space: Space | str = "minilm",
    out: str | os.PathLike | None = None,
    *,
    texts: Iterable[str] = (),
    index: str = "Flat",
    search_params: str = "",
    batch_size: int = 256,
    chunk_size: int = 16_384,
    overwrite: bool = False,
    shards: int = 1,
    encoder: ChunkEncoder | None = None,
) -> Bank:
    """Encode the captions of `sources` (files or named sources) and `texts`, index them, save to `out`.

    Encoded chunks are checkpointed next to `out`; running the same build again after an interrupt
    reuses them. A finished bank with the same space, captions and index is returned as it is (even
    with `overwrite`). `out` may be new, an empty folder, or (with `overwrite`) a bank; anything
    else is refused before any work. A second build of the same `out` waits for the first.
    `shards`: that many shard folders, each a bank of consecutive captions, all filled from one trained index, so
    the sharded bank answers as one index would. `encoder`: encodes the chunks elsewhere (e.g. on Ray workers,
    `unembed.runner.encoding`); by default in this process.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    batch_size, chunk_size = checks.count(batch_size, "batch_size"), checks.count(chunk_size, "chunk_size")
    shards = checks.count(shards, "shards", maximum=MAX_SHARDS)
    space = load_space(space)
    captions = collect_captions(sources, texts)
    if shards > len(captions):
        raise InputError(f"{shards} shards for {len(captions)} captions: each shard needs at least one. Use fewer shards.")
    refuse_spec_faiss_cannot_take(split_refine(index)[0] if isinstance(index, str) else index, len(captions))  # before encoding
    if out is None and shards > 1:
        raise InputError("a sharded bank is written as it is built: give it a folder (out=..., --out).")
    if out is None:
        return Bank.from_texts(captions, space, index=index, search_params=search_params, batch_size=batch_size)
    out = _destination(out)
    _claim(out)  # refuse a file or a foreign folder before taking the lock or encoding anything
    digest = texts_sha256(captions)
    with exclusive(out, "build"):
        if _claim(out) == "bank":
            existing = read_manifest(out)
            same = (existing["space"], existing["texts_sha256"], existing["index"], len(existing.get("shards", [None])))
            if same == (space.spec, digest, index, shards):
                try:
                    return load_bank(out, space)
                except BankError:
                    if not overwrite:
                        raise
            if not overwrite:
                raise BankError(f"{out} already holds another bank. Choose another --out, or pass --overwrite to replace it.")
        vectors = _encode_with_checkpoints(captions, space, out, batch_size, chunk_size, encoder)
        if shards > 1:
            _write_sharded(out, captions, vectors, space, index, search_params, shards)
            bank = load_bank(out, space)
        else:
            bank = Bank.from_vectors(captions, vectors, space, index=index, search_params=search_params)
            bank._write(out, overwrite=True, link_vectors=True)
        _clear_checkpoints(_partial_dir(out))
        with contextlib.suppress(OSError):
            _partial_dir(out).rmdir()  # only when it held nothing else
    return bank


def _write_sharded(out: Path, captions: list[str], vectors: VectorFile, space: Space, spec: str, search_params: str, shards: int) -> None:
    """`out` as `shards` shard folders (shard-000, ...) of consecutive captions, each a bank, and a manifest that lists
    them with their manifests' sha256. Every shard is filled from one trained template (the same lists and codes one
    index would hold) and written before the next is filled: one shard's index in memory at a time."""
    _checked_vectors(captions, vectors, space)
    base, refines = split_refine(spec)
    template = trained_index(vectors, base)
    bounds = np.linspace(0, len(captions), shards + 1).astype(int).tolist()
    with _staging(out) as staging:
        entries = []
        for number, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            folder = staging / f"shard-{number:03d}"
            folder.mkdir()
            index = faiss.clone_index(template)
            fill_index(index, vectors, base, start, stop)
            (folder / TEXTS).write_bytes(_texts_bytes(captions[start:stop]))
            faiss.write_index(index, str(folder / INDEX))
            del index
            stored = [TEXTS, INDEX]
            if refines:
                write_vector_file(folder / VECTORS, vectors.blocks(start=start, stop=stop), stop - start, space.dim)
                stored.append(VECTORS)
            _write_manifest(folder, _manifest(space, captions[start:stop], spec, search_params), stored)
            entries.append({"path": folder.name, "count": stop - start, "manifest_sha256": sha256_file(folder / MANIFEST)})
        write_grammar(captions, staging)
        _write_manifest(staging, dict(_manifest(space, captions, spec, search_params), shards=entries), GRAMMAR_FILES)


def _load_sharded(path: Path, manifest: dict, search_params: str | None) -> Bank:
    """A sharded bank: each shard checked (there, of this bank's space and index, the very shard its manifest lists)
    and loaded as a bank, then searched as one through a FAISS IndexShards."""
    shards = []
    for entry in manifest["shards"]:
        folder = path / entry["path"]
        if os.path.lexists(folder) and not folder.is_dir():
            raise BankError(f"{folder} is not a folder, but a shard of the bank {path} is: the bank is damaged. {REBUILD}")
        if not folder.is_dir():
            raise BankError(
                f"{path} is a bank of {len(manifest['shards'])} shards, and shard {entry['path']} is missing. Copy the bank's "
                f"whole folder, shards included, or {REBUILD[0].lower()}{REBUILD[1:]}"
            )
        own = read_manifest(folder)
        if (own["space"], own["dim"], own["index"]) != (manifest["space"], manifest["dim"], manifest["index"]):
            raise SpaceMismatchError(
                f"{folder} is a shard of space {own['space']!r} (dim {own['dim']}, index {own['index']!r}), but the bank "
                f"{path} is of space {manifest['space']!r} (dim {manifest['dim']}, index {manifest['index']!r}): it comes "
                f"from another bank. Put this bank's own shard there. {REBUILD}"
            )
        if sha256_file(folder / MANIFEST) != entry["manifest_sha256"] or own["count"] != entry["count"]:
            raise BankError(
                f"{folder} is not the shard this bank was built with (its manifest's checksum differs): swapped for another "
                f"bank's shard, or rebuilt alone. {REBUILD}"
            )
        shards.append(load_bank(folder, search_params=search_params))
    index = faiss.IndexShards(manifest["dim"], False, True)  # type: ignore[call-arg]  # not threaded; ids successive
    for shard in shards:
        index.add_shard(shard.index)
    texts = [text for shard in shards for text in shard.texts]
    if texts_sha256(texts) != manifest["texts_sha256"]:
        raise BankError(f"the shards of {path} hold other captions than its manifest records. {REBUILD}")
    parts = [shard.vectors for shard in shards if isinstance(shard.vectors, VectorFile)]
    vectors = ShardedVectors(parts) if len(parts) == len(shards) else None
    if search_params is not None:
        manifest["search_params"] = search_params
    for name in GRAMMAR_FILES:
        if name in manifest["files"]:  # every file the manifest lists is there and whole
            _verify(path, manifest, name)
    if all(name in manifest["files"] for name in GRAMMAR_FILES):
        texts = CorpusTexts(texts, path)
    return Bank(index, texts, manifest, path, vectors, shards)


def _partial_dir(out: Path) -> Path:
    return out.with_name(f".{out.name}.partial")


def _clear_checkpoints(partial: Path, keep: Collection[str] = ()) -> None:
    """Remove the checkpoints in `partial` but those named in `keep`. Only files unembed wrote there (chunk-*.npy, the
    joined vectors-*.npy, and their temporaries .chunk-*, .vectors-*) go: whatever else the folder holds is not a build's
    to delete."""
    if not partial.is_dir():
        return
    for name in set(os.listdir(partial)) - set(keep):
        path = partial / name
        if name.startswith(("chunk-", ".chunk-", "vectors-", ".vectors-")) and path.is_file():
            path.unlink()


def _chunk_name(number: int, space: Space, texts: list[str]) -> str:
    """A checkpoint's name carries the checksum of what it encodes: the space and its texts."""
    key = hashlib.sha256(f"{space.spec}\n{space.dim}\n".encode() + _texts_bytes(texts)).hexdigest()[:24]
    return f"chunk-{number:06d}-{key}.npy"


def _read_chunk(path: Path, rows: int, dim: int) -> np.ndarray | None:
    """A checkpointed chunk, or None when it is missing or damaged (then it is encoded again)."""
    try:
        chunk = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if not isinstance(chunk, np.ndarray) or chunk.dtype != np.float32 or chunk.shape != (rows, dim) or not np.isfinite(chunk).all():
        return None
    return chunk


# Encodes the chunks it is given, (number, texts), elsewhere (e.g. on Ray workers); yields (number, vectors) as each
# finishes, in any order.
ChunkEncoder = Callable[[list[tuple[int, list[str]]]], Iterator[tuple[int, np.ndarray]]]


def _encode_with_checkpoints(captions, space, out, batch_size, chunk_size, encoder: ChunkEncoder | None = None) -> VectorFile:
    """The captions' vectors, encoded chunk by chunk into checkpoints, then joined into one file beside them: never
    all in memory. A chunk (or the joined file) already there from an interrupted build of the same texts is kept."""
    partial = _partial_dir(out)
    starts = range(0, len(captions), chunk_size)
    names = [_chunk_name(number, space, captions[start : start + chunk_size]) for number, start in enumerate(starts)]
    joined = "vectors-" + hashlib.sha256("".join(names).encode()).hexdigest()[:24] + ".npy"
    if partial.is_symlink() or (partial.exists() and not partial.is_dir()):
        raise BankError(f"{partial} is a link or a file, not the build's checkpoint folder. Move it away, then build again.")
    try:
        partial.mkdir(parents=True, exist_ok=True)
        _clear_checkpoints(partial, keep=[*names, joined])  # another build's checkpoints: useless here
    except OSError as error:
        raise atomic.write_error(partial, error) from error
    with contextlib.suppress(InputError):
        vectors = VectorFile(partial / joined)
        if vectors.shape == (len(captions), space.dim):
            return vectors
    todo = [
        (number, captions[start : start + chunk_size])
        for number, start in enumerate(starts)
        if _read_chunk(partial / names[number], len(captions[start : start + chunk_size]), space.dim) is None
    ]
    with _progress(len(captions), space) as bar:
        bar.update(len(captions) - sum(len(texts) for _, texts in todo))
        done: Iterator[tuple[int, np.ndarray]]
        if encoder is None:
            done = ((number, encode_captions(texts, space, batch_size, bar)) for number, texts in todo)
        else:
            done = encoder(todo)
        for number, chunk in done:
            rows = len(captions[number * chunk_size : (number + 1) * chunk_size])
            if not isinstance(chunk, np.ndarray) or chunk.shape != (rows, space.dim):
                shape = getattr(chunk, "shape", type(chunk).__name__)
                raise BankError(f"the encoder returned {shape} for chunk {number}, not {rows} x {space.dim}.")
            atomic.save_npy(partial / names[number], chunk.astype(np.float32, copy=False))
            if encoder is not None:
                bar.update(rows)
    chunks = (np.load(partial / name, allow_pickle=False) for name in names)
    staging = partial / f".{joined}"
    try:
        vectors = write_vector_file(staging, chunks, len(captions), space.dim)
        os.replace(staging, partial / joined)
    except OSError as error:
        staging.unlink(missing_ok=True)
        raise atomic.write_error(partial / joined, error) from error
    vectors.path = partial / joined  # the same file, renamed; its rows are unit rows (written so), not checked again
    return vectors


_MANIFEST_TYPES = {"format": int, "space": str, "dim": int, "count": int, "index": str, "texts_sha256": str}


def read_manifest(path: Path) -> dict:
    """The manifest of the bank at `path`, checked for the fields and types this version reads."""
    if path.exists() and not path.is_dir() and not path.is_file():  # nothing to build a bank from either
        raise BankError(
            f"{path} is not a bank but a FIFO, a device or a socket: a bank is the folder `unembed bank build` writes. Give that folder."
        )
    if path.exists() and not path.is_dir():  # a caption file given where a bank goes (`bank search c.txt`)
        raise BankError(
            f"{path} is a file, not a bank: a bank is the folder `unembed bank build` writes. Build one from it with "
            f"`unembed bank build --from {path} --out BANK_DIR` (one caption per line), then give BANK_DIR."
        )
    if not path.is_dir():
        raise BankError(f"no bank at {path}. Build one with `unembed bank build --from CAPTIONS.txt --out {path}`.")
    manifest_file = path / MANIFEST
    if not os.path.lexists(manifest_file):
        raise BankError(f"{path} has no {MANIFEST}: it is not a bank. Give the folder a bank was built into (`unembed bank build --out`).")
    _bank_file(path, MANIFEST)  # a FIFO would block the read below forever
    try:
        manifest = jsontext.parse(manifest_file.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise BankError(
            f"{path} has no {MANIFEST}: it is not a bank. Give the folder a bank was built into (`unembed bank build --out`)."
        ) from error
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise BankError(f"{manifest_file} is corrupt or unreadable ({error}). {REBUILD}") from error
    if not isinstance(manifest, dict):
        raise BankError(f"{manifest_file} is not a bank manifest (a JSON object). {REBUILD}")
    missing = set(_MANIFEST_TYPES) - set(manifest)
    if missing:
        raise BankError(f"{manifest_file} lacks {', '.join(sorted(missing))}. {REBUILD}")
    wrong = [key for key, kind in _MANIFEST_TYPES.items() if not isinstance(manifest[key], kind) or isinstance(manifest[key], bool)]
    if not isinstance(manifest.get("search_params", ""), str):
        wrong.append("search_params")
    if wrong:
        raise BankError(f"{manifest_file} has {', '.join(f'{key}={manifest[key]!r}' for key in wrong)} of the wrong type. {REBUILD}")
    if manifest.get("metric", METRIC) != METRIC:  # every bank is searched by inner product on unit vectors (cosine)
        raise BankError(f"{manifest_file} has metric {manifest['metric']!r}: unembed's banks are searched by {METRIC!r} only. {REBUILD}")
    if manifest["format"] > FORMAT_VERSION:
        raise BankError(f"{path} was written by a newer unembed (format {manifest['format']}). Upgrade unembed to read it.")
    if manifest["format"] < 1 or manifest["dim"] < 1 or manifest["count"] < 1:
        raise BankError(
            f"{manifest_file} has format {manifest['format']}, dim {manifest['dim']}, count {manifest['count']}: not a bank. {REBUILD}"
        )
    if manifest["format"] >= 2 and "shards" in manifest:
        _check_shard_list(manifest_file, manifest)
    elif manifest["format"] >= 2:
        files = manifest.get("files")
        if not isinstance(files, dict) or any(
            not isinstance(files.get(name), dict)
            or not isinstance(files[name].get("sha256"), str)
            or not isinstance(files[name].get("bytes"), int)
            for name in {TEXTS, INDEX, *files}
        ):
            raise BankError(f"{manifest_file} lacks the size and sha256 of {TEXTS} and {INDEX}. {REBUILD}")
    if manifest["format"] >= 2:
        # Only a bank's own files are read, by these names: no entry names a path elsewhere.
        own = set(GRAMMAR_FILES) if "shards" in manifest else {TEXTS, INDEX, VECTORS, *GRAMMAR_FILES}
        foreign = sorted(map(str, set(manifest["files"]) - own))
        if foreign:
            raise BankError(f"{manifest_file} lists {', '.join(map(repr, foreign[:3]))}, not among the files of a bank. {REBUILD}")
    return manifest


def _check_shard_list(manifest_file: Path, manifest: dict) -> None:
    shards, files = manifest["shards"], manifest.get("files")
    if (
        not isinstance(shards, list)
        or not 1 < len(shards) <= MAX_SHARDS
        or not isinstance(files, dict)
        or any(
            not isinstance(record, dict) or not isinstance(record.get("sha256"), str) or not isinstance(record.get("bytes"), int)
            for record in files.values()
        )
        or any(
            not isinstance(entry, dict)
            or entry.get("path") != f"shard-{number:03d}"  # a name, never a path elsewhere
            or not isinstance(entry.get("count"), int)
            or not isinstance(entry.get("manifest_sha256"), str)
            for number, entry in enumerate(shards)
        )
        or sum(entry["count"] for entry in shards) != manifest["count"]
    ):
        raise BankError(f"{manifest_file} has a damaged list of shards (each: shard-NNN, its count and manifest sha256). {REBUILD}")


def _bank_file(path: Path, name: str) -> os.stat_result:
    """The status of `path/name`, one of the files of the bank at `path`, which must be a regular file (or a link to
    one): a FIFO blocks its reader forever, a device never ends, and a folder or a missing file is a damaged bank.
    Asked before every file of a bank is opened."""
    file = path / name
    try:
        status = file.stat()
    except FileNotFoundError:
        raise BankError(f"{path} has no {name}, one of the bank's files: it was deleted or not copied with the bank. {REBUILD}") from None
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EPERM):
            raise BankError(f"cannot read {file} ({error.strerror}). Check its permissions.") from error
        raise BankError(f"cannot read {file} ({error.strerror}): the bank is damaged. {REBUILD}") from error
    if stat.S_ISDIR(status.st_mode):
        raise BankError(f"{file} is a folder, not the bank's {name}: the bank is damaged. {REBUILD}")
    if not stat.S_ISREG(status.st_mode):
        raise BankError(
            f"{file} is not a regular file (a FIFO, a device or a socket): the bank is damaged, and unembed reads only "
            f"regular files, which cannot block it. {REBUILD}"
        )
    return status


def _verify(path: Path, manifest: dict, name: str, data: bytes | None = None) -> None:
    """`path/name` against the manifest: size, then sha256 (format 1 recorded only the texts' sha256)."""
    if manifest["format"] < 2:
        if name == TEXTS:
            texts = data if data is not None else (path / name).read_bytes()
            if hashlib.sha256(texts).hexdigest() != manifest["texts_sha256"]:
                raise BankError(f"{path / name} does not match its manifest checksum (edited or damaged). {REBUILD}")
        return
    expected = manifest["files"][name]
    size = len(data) if data is not None else _bank_file(path, name).st_size
    digest = hashlib.sha256(data).hexdigest() if data is not None else None
    if size != expected["bytes"] or (digest or sha256_file(path / name)) != expected["sha256"]:
        raise BankError(
            f"{path / name} does not match its manifest checksum: it was edited, damaged or swapped for another bank's. {REBUILD}"
        )


def load_bank(
    path: str | os.PathLike, space: Space | str | None = None, *, search_params: str | None = None, allow_unverified: bool = False
) -> Bank:
    """Open a saved bank, checking it is whole (every file against its manifest checksum) and, if
    `space` is given, that it was built with it. A bank of format 1 (only its texts checksummed) is refused
    unless `allow_unverified` (or $UNEMBED_ALLOW_UNVERIFIED_BANKS=1); then its texts are checked."""
    if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str) or not str(path).strip():
        raise InputError(f"load_bank takes a bank folder (a str or os.PathLike path); got {path!r}: the --out of `unembed bank build`.")
    path = Path(path)
    manifest = read_manifest(path)
    if manifest["format"] < 2 and not (allow_unverified or os.environ.get(ALLOW_UNVERIFIED) == "1"):
        raise BankError(_unverified(path, manifest))
    if space is not None:
        spec, dim = (space.spec, space.dim) if isinstance(space, Space) else (str(space), None)
        if manifest["space"] != spec or (dim is not None and dim != manifest["dim"]):
            raise SpaceMismatchError(
                f"{path} was built with space {manifest['space']!r} (dim {manifest['dim']}), not {spec!r}"
                f"{f' (dim {dim})' if dim is not None else ''}. Use --space {manifest['space']} or build a bank with your space."
            )
    if search_params is None:
        try:
            _checked_settings(manifest.get("search_params", ""))
        except InputError as error:
            raise BankError(
                f"{path / MANIFEST} holds the search parameters {manifest['search_params']!r}, which cannot be used: {error} "
                f"The manifest was edited or damaged. {REBUILD} Or override them with --search-params (load_bank(search_params=...))."
            ) from error
    if "shards" in manifest:
        return _load_sharded(path, manifest, search_params)
    _bank_file(path, TEXTS)  # each file of a bank is checked before it is opened (_verify: those the manifest lists)
    try:
        raw_texts = (path / TEXTS).read_bytes()
    except OSError as error:
        raise BankError(f"cannot read {path / TEXTS} ({error.strerror}). Check its permissions.") from error
    _verify(path, manifest, TEXTS, raw_texts)
    try:
        texts = raw_texts.decode("utf-8").split("\n")[:-1] if raw_texts.endswith(b"\n") else None
    except UnicodeDecodeError:
        texts = None
    if texts is None:
        raise BankError(f"{path / TEXTS} is not one UTF-8 caption per line. {REBUILD}")
    _bank_file(path, INDEX)
    try:
        _verify(path, manifest, INDEX)
        index = faiss.read_index(str(path / INDEX))
    except OSError as error:
        raise BankError(f"cannot read {path / INDEX} ({error.strerror}). Check its permissions.") from error
    except RuntimeError as error:
        raise BankError(f"{path / INDEX} is not a readable FAISS index (damaged?). {REBUILD}") from error
    if index.d != manifest["dim"] or index.ntotal != manifest["count"] or len(texts) != manifest["count"]:
        raise BankError(
            f"{path} is inconsistent: manifest says {manifest['count']} x {manifest['dim']}, index holds "
            f"{index.ntotal} x {index.d}, texts.txt {len(texts)} lines. {REBUILD}"
        )
    _check_index_kind(path, manifest, index)
    if search_params is not None:
        manifest["search_params"] = search_params
    vectors = _load_vectors(path, manifest)
    # A bank written before the grammar files has its grammar built from its texts, as before.
    listed = [name for name in GRAMMAR_FILES if manifest["format"] >= 2 and name in manifest["files"]]
    for name in listed:  # every file the manifest lists is there and whole
        _verify(path, manifest, name)
    if len(listed) == len(GRAMMAR_FILES):
        return Bank(index, CorpusTexts(texts, path), manifest, path, vectors)
    return Bank(index, texts, manifest, path, vectors)


_SPEC_SIZES = re.compile(r"IVF(\d+)|x(\d+)")  # an index spec's IVF lists and code bits: k-means needs that many points


def _check_index_kind(path: Path, manifest: dict, index: faiss.Index) -> None:
    """The index FAISS read is of the kind, lists and code size the manifest's spec builds, searched by inner product.
    The manifest is checksummed by nothing but itself, so this is a consistency check: an edited spec is named, not
    reported as the bank's. It compares an empty index made from the spec (no vector is read)."""
    spec, count = manifest["index"], manifest["count"]
    base, refines = split_refine(spec)
    listed = manifest["format"] >= 2 and VECTORS in manifest["files"]
    says = f"{path / MANIFEST} says index {spec!r}"
    if listed and not refines:
        raise BankError(f"{says}, but lists {VECTORS}, which only an index spec ending in RFlat has. {REBUILD}")
    if index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise BankError(f"{path / INDEX} is not searched by inner product (FAISS metric {index.metric_type}): not a bank's. {REBUILD}")
    held = index
    if refines and not listed:  # an RFlat bank written before vectors.npy: its index is FAISS's IndexRefineFlat
        if not isinstance(index, faiss.IndexRefine):
            raise BankError(f"{says}, but {INDEX} is a {type(index).__name__} with no re-ranking stage. {REBUILD}")
        held = faiss.downcast_index(index.base_index)
    for lists, bits in _SPEC_SIZES.findall(base):  # before FAISS allocates them: IVF1000000000 or PQ48x40 are GBs
        digits = lists or bits
        needed = math.inf if len(digits) > 18 else int(digits) if lists else 2 ** min(int(digits), 64)
        if needed > count:
            raise BankError(f"{says}, which cannot be trained on its {count} captions: the manifest was edited. {REBUILD}")
    try:
        expected = faiss.index_factory(index.d, base, faiss.METRIC_INNER_PRODUCT)
    except (RuntimeError, MemoryError, ValueError, TypeError) as error:
        raise BankError(f"{says}, which FAISS cannot build: the manifest was edited or is damaged. {REBUILD}") from error
    same = isinstance(held, type(expected)) and all(
        getattr(held, name, None) == getattr(expected, name, None) for name in ("nlist", "code_size")
    )
    if not same:
        raise BankError(
            f"{says}, but {INDEX} holds FAISS's {type(held).__name__} (that spec builds {type(expected).__name__}): the manifest "
            f"was edited or belongs to another bank. {REBUILD}"
        )


def _load_vectors(path: Path, manifest: dict) -> VectorFile | None:
    """The bank's re-ranking vectors, checked, when its manifest lists them (an RFlat bank written since they moved out
    of index.faiss; an older one's index holds them, and FAISS re-ranks)."""
    if manifest["format"] < 2 or VECTORS not in manifest["files"]:
        return None
    try:
        _verify(path, manifest, VECTORS)
        vectors = VectorFile(path / VECTORS)
    except OSError as error:
        raise BankError(f"cannot read {path / VECTORS} ({error.strerror}). Check its permissions.") from error
    except InputError as error:
        raise BankError(f"{error} {REBUILD}") from error
    if vectors.shape != (manifest["count"], manifest["dim"]):
        held = f"{vectors.shape[0]} x {vectors.shape[1]}"
        raise BankError(f"{path / VECTORS} holds {held} vectors, not the bank's {manifest['count']} x {manifest['dim']}. {REBUILD}")
    return vectors


def _unverified(path: Path, manifest: dict) -> str:
    rebuild = ["unembed", "bank", "build", "--from", str(path / TEXTS), "--space", manifest["space"], "--index", manifest["index"]]
    if manifest.get("search_params"):
        rebuild += ["--search-params", manifest["search_params"]]
    rebuild += ["--out", str(path), "--overwrite"]
    return (
        f"{path} is a bank of format {manifest['format']}, which checksummed only {TEXTS}: an {INDEX} damaged or swapped "
        f"for another bank's would be searched without a word, so it is not loaded unless you say so. Rebuild it from "
        f"its own captions: `{shlex.join(rebuild)}`; or load it unverified with {ALLOW_UNVERIFIED}=1 "
        "(in Python, load_bank(..., allow_unverified=True))."
    )


def resolve_bank(bank, space: Space, modality: str = "image") -> Bank:
    """The bank an inversion of `modality` in `space` starts from.

    A Bank as is; a bank folder loaded (and checked against `space`); a named source or caption
    file built once with `space` and cached under the cache's `banks/` (rebuilt when its captions
    change); None: the caption source the space names for the modality (`space.caption_source`).
    """
    if isinstance(bank, Bank):
        return bank
    if bank is None:
        bank = space.caption_source(modality)
    if not isinstance(bank, (str, os.PathLike)):
        raise InputError(f"a bank is a Bank, a bank folder, a caption file or a named source; got a {type(bank).__name__}.")
    if not str(bank).strip():
        raise InputError("the bank's name is empty: give a bank folder, a caption file or a named source, or None for the space's own.")
    path = Path(bank)
    if path.is_dir():
        return load_bank(path, space=space)
    # The cache is ours: a bank left by an older version of the file or source is replaced, not an error.
    cached = cache_dir("banks") / safe_name(f"{path.name if path.is_file() else bank}-{space.spec}")
    return build_bank([str(bank)], space, out=cached, overwrite=True)
