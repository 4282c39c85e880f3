"""Caption banks: captions, their embeddings in one space, and a FAISS index, saved as one directory.

    DIR/manifest.json   space spec, dim, count, index factory string, search params, sha256 of texts
    DIR/texts.txt       one whitespace-normalised caption per line, in index id order
    DIR/index.faiss     the FAISS index (inner product on unit vectors = cosine)

Writes go to a temporary sibling directory that is renamed into place, so a crash never leaves a
half-written bank. Encoding checkpoints each chunk in `.DIR.partial/`, so an interrupted build resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterable

import faiss
import numpy as np
from tqdm.auto import tqdm

from .. import atomic
from ..errors import BankError, InputError, SpaceMismatchError
from ..spaces import Space, load_space
from ..vectors import unit_rows
from ..version import __version__
from ..paths import cache_dir, safe_name
from .sources import collect_captions

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TEXTS = "texts.txt"
INDEX = "index.faiss"
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


def make_index(vectors: np.ndarray, spec: str = "Flat", *, train_size: int = DEFAULT_TRAIN_SIZE, seed: int = 0) -> faiss.Index:
    """A FAISS index from an index-factory string, trained on a seeded sample when the type needs it."""
    try:
        index = faiss.index_factory(vectors.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as error:
        raise InputError(
            f"FAISS cannot build index {spec!r} ({_faiss_reason(error)}). "
            "Use a faiss index-factory string such as 'Flat', 'HNSW32' or 'IVF4096,SQ8,RFlat'."
        ) from error
    if not index.is_trained:
        sample = vectors
        if len(vectors) > train_size:
            rows = np.sort(np.random.default_rng(seed).choice(len(vectors), train_size, replace=False))
            sample = vectors[rows]
        index.train(sample)
    for start in range(0, len(vectors), 65_536):
        index.add(vectors[start : start + 65_536])
    return index


def _faiss_reason(error: RuntimeError) -> str:
    """FAISS errors carry a C++ location prefix; keep the human part after the last ':'."""
    return str(error).strip().splitlines()[-1].rsplit(":", 1)[-1].strip()


def set_search_params(index: faiss.Index, params: str) -> None:
    """Apply faiss ParameterSpace settings such as 'nprobe=32,k_factor=4' or 'efSearch=128'."""
    if not params:
        return
    try:
        faiss.ParameterSpace().set_index_parameters(index, params)
    except RuntimeError as error:
        raise InputError(
            f"search parameters {params!r} do not apply to this index ({_faiss_reason(error)}). "
            "IVF indexes take nprobe, HNSW takes efSearch, a refine stage (RFlat) takes k_factor_rf."
        ) from error


class Bank:
    """Captions searchable by embedding. Build with `build_bank`/`Bank.from_texts`, open with `load_bank`."""

    def __init__(self, index: faiss.Index, texts: list[str], manifest: dict, path: Path | None = None):
        self.index = index
        self.texts = texts
        self.manifest = manifest
        self.path = path
        set_search_params(self.index, manifest.get("search_params", ""))

    @classmethod
    def from_texts(
        cls, texts: Iterable[str], space: Space | str, *, index: str = "Flat", search_params: str = "", batch_size: int = 256
    ) -> "Bank":
        """An in-memory bank (nothing written) of the normalised, de-duplicated `texts`."""
        space = load_space(space)
        captions = collect_captions(texts=texts)
        with _progress(len(captions), space) as bar:
            vectors = _encode(captions, space, batch_size, bar)
        return cls.from_vectors(captions, vectors, space, index=index, search_params=search_params)

    @classmethod
    def from_vectors(
        cls, texts: list[str], vectors: np.ndarray, space: Space, *, index: str = "Flat", search_params: str = ""
    ) -> "Bank":
        if len(texts) != len(vectors):
            raise InputError(f"{len(texts)} texts but {len(vectors)} vectors; give one vector per text.")
        vectors = unit_rows(vectors, space.dim, what="bank vectors")
        manifest = {
            "format": FORMAT_VERSION,
            "space": space.spec,
            "dim": space.dim,
            "count": len(texts),
            "index": index,
            "search_params": search_params,
            "metric": "inner_product",
            "texts_sha256": texts_sha256(texts),
        }
        return cls(make_index(vectors, index), list(texts), manifest)

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def space_spec(self) -> str:
        return self.manifest["space"]

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"Bank(space={self.space_spec!r}, count={len(self)}, index={self.manifest['index']!r}{where})"

    def set_search_params(self, params: str) -> None:
        set_search_params(self.index, params)
        self.manifest["search_params"] = params

    def to_gpu(self) -> "Bank":
        """Move the index to every visible GPU (faiss-gpu); search parameters carry over."""
        if not hasattr(faiss, "index_cpu_to_all_gpus") or faiss.get_num_gpus() == 0:
            raise BankError(
                "this faiss build has no GPU support or sees no GPU. On a CUDA machine: "
                "`pip uninstall faiss-cpu && pip install 'unembed[gpu]'`; otherwise search on the CPU."
            )
        self.index = faiss.index_cpu_to_all_gpus(self.index)
        set_search_params(self.index, self.manifest.get("search_params", ""))
        return self

    def search(self, vectors, k: int = 10, *, exclude: Collection[str] | None = None) -> SearchResult:
        """Top-`k` captions for each query vector (one (dim,) vector or an (n, dim) batch).

        `exclude` drops captions by text (e.g. a held-out target) while still returning `k` hits.
        """
        if k < 1:
            raise InputError(f"k must be at least 1; got {k}.")
        queries = unit_rows(vectors, self.dim, what="query")
        exclude = set(exclude or ())
        scores, ids = self.index.search(queries, k + len(exclude))  # FAISS pads with -1 past ntotal
        if exclude:
            scores, ids = _drop_excluded(scores, ids, self.texts, exclude, k)
        ids, scores = ids[:, :k], scores[:, :k]
        scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32)
        texts = [[self.texts[i] for i in row if i >= 0] for row in ids]
        return SearchResult(ids=ids, scores=scores, texts=texts)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the bank directory atomically; an existing bank is replaced only with `overwrite`."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise BankError(f"{path} already exists. Choose another --out, or pass overwrite=True / --overwrite.")
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
        try:
            os.chmod(staging, 0o755)  # mkdtemp makes it private; a bank is an ordinary shared folder
            manifest = dict(self.manifest, unembed_version=__version__, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            (staging / TEXTS).write_bytes(_texts_bytes(self.texts))
            faiss.write_index(_cpu_index(self.index), str(staging / INDEX))
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            _swap_into_place(staging, path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.manifest, self.path = manifest, path
        return path


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


def _swap_into_place(staging: Path, path: Path) -> None:
    if not path.exists():
        os.replace(staging, path)
        return
    retired = path.with_name(f".{path.name}.old-{os.getpid()}")
    os.replace(path, retired)
    os.replace(staging, path)
    shutil.rmtree(retired, ignore_errors=True)


def _encode(texts: list[str], space: Space, batch_size: int, bar: tqdm) -> np.ndarray:
    parts = [np.zeros((0, space.dim), dtype=np.float32)]
    for start in range(0, len(texts), batch_size):
        parts.append(space.embed_text(texts[start : start + batch_size]))
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
) -> Bank:
    """Encode the captions of `sources` (files or named sources) and `texts`, index them, save to `out`.

    Encoded chunks are checkpointed next to `out`; running the same build again after an interrupt
    reuses them. A finished bank with the same space, captions and index is returned as it is (even with `overwrite`).
    """
    space = load_space(space)
    captions = collect_captions(sources, texts)
    if out is None:
        return Bank.from_texts(captions, space, index=index, search_params=search_params, batch_size=batch_size)
    out = Path(out)
    digest = texts_sha256(captions)
    if out.exists():
        try:
            existing = _read_manifest(out)
        except BankError:
            if not overwrite:
                raise
            existing = {}
        if (existing.get("space"), existing.get("texts_sha256"), existing.get("index")) == (space.spec, digest, index):
            return load_bank(out, space)
        if not overwrite:
            raise BankError(f"{out} already holds another bank. Choose another --out, or pass --overwrite to replace it.")
    vectors = _encode_with_checkpoints(captions, space, out, digest, batch_size, chunk_size)
    bank = Bank.from_vectors(captions, vectors, space, index=index, search_params=search_params)
    bank.save(out, overwrite=overwrite)
    shutil.rmtree(_partial_dir(out), ignore_errors=True)
    return bank


def _partial_dir(out: Path) -> Path:
    return out.with_name(f".{out.name}.partial")


def _encode_with_checkpoints(captions, space, out, digest, batch_size, chunk_size) -> np.ndarray:
    partial = _partial_dir(out)
    job = {"space": space.spec, "texts_sha256": digest, "chunk_size": chunk_size}
    job_file = partial / "job.json"
    if partial.exists() and (not job_file.exists() or json.loads(job_file.read_text()) != job):
        shutil.rmtree(partial)  # checkpoints of a different build: useless here
    partial.mkdir(parents=True, exist_ok=True)
    atomic.write_json(job_file, job)
    chunks = []
    with _progress(len(captions), space) as bar:
        for number, start in enumerate(range(0, len(captions), chunk_size)):
            chunk_file = partial / f"chunk-{number:06d}.npy"
            texts = captions[start : start + chunk_size]
            if chunk_file.exists():
                chunks.append(np.load(chunk_file, allow_pickle=False))
                bar.update(len(texts))
            else:
                chunks.append(_encode(texts, space, batch_size, bar))
                atomic.save_npy(chunk_file, chunks[-1])
    return np.concatenate(chunks)


def _read_manifest(path: Path) -> dict:
    if not path.is_dir():
        raise BankError(f"no bank at {path}. Build one with `unembed bank build --from FILE --out {path}`.")
    manifest_file = path / MANIFEST
    try:
        manifest = json.loads(manifest_file.read_text())
    except FileNotFoundError as error:
        raise BankError(f"{path} has no {MANIFEST}: it is not a bank (or was damaged). Rebuild it with `unembed bank build`.") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise BankError(f"{manifest_file} is corrupt ({error}). Rebuild the bank with `unembed bank build --overwrite`.") from error
    missing = {"format", "space", "dim", "count", "index", "texts_sha256"} - set(manifest if isinstance(manifest, dict) else {})
    if missing:
        raise BankError(f"{manifest_file} lacks {', '.join(sorted(missing))}. Rebuild the bank with `unembed bank build --overwrite`.")
    if manifest["format"] > FORMAT_VERSION:
        raise BankError(f"{path} was written by a newer unembed (format {manifest['format']}). Upgrade unembed to read it.")
    return manifest


def load_bank(path: str | os.PathLike, space: Space | str | None = None, *, search_params: str | None = None) -> Bank:
    """Open a saved bank, checking it is whole and, if `space` is given, that it was built with it."""
    path = Path(path)
    manifest = _read_manifest(path)
    if space is not None:
        spec, dim = (space.spec, space.dim) if isinstance(space, Space) else (str(space), None)
        if manifest["space"] != spec or (dim is not None and dim != manifest["dim"]):
            raise SpaceMismatchError(
                f"{path} was built with space {manifest['space']!r} (dim {manifest['dim']}), not {spec!r}"
                f"{f' (dim {dim})' if dim is not None else ''}. Use --space {manifest['space']} or build a bank with your space."
            )
    try:
        raw_texts = (path / TEXTS).read_bytes()
    except FileNotFoundError as error:
        raise BankError(f"{path} has no {TEXTS}. Rebuild the bank with `unembed bank build --overwrite`.") from error
    if hashlib.sha256(raw_texts).hexdigest() != manifest["texts_sha256"]:
        raise BankError(f"{path / TEXTS} does not match its manifest checksum (edited or damaged). Rebuild the bank.")
    texts = raw_texts.decode("utf-8").splitlines()
    if not (path / INDEX).is_file():
        raise BankError(f"{path} has no {INDEX}. Rebuild the bank with `unembed bank build --overwrite`.")
    try:
        index = faiss.read_index(str(path / INDEX))
    except RuntimeError as error:
        raise BankError(f"{path / INDEX} is not a readable FAISS index (damaged?). Rebuild the bank with `unembed bank build --overwrite`.") from error
    if index.d != manifest["dim"] or index.ntotal != manifest["count"] or len(texts) != manifest["count"]:
        raise BankError(
            f"{path} is inconsistent: manifest says {manifest['count']} x {manifest['dim']}, index holds "
            f"{index.ntotal} x {index.d}, texts.txt {len(texts)} lines. Rebuild the bank with `unembed bank build --overwrite`."
        )
    if search_params is not None:
        manifest["search_params"] = search_params
    return Bank(index, texts, manifest, path)


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
    path = Path(bank)
    if path.is_dir():
        return load_bank(path, space=space)
    # The cache is ours: a bank left by an older version of the file or source is replaced, not an error.
    cached = cache_dir("banks") / safe_name(f"{path.name if path.is_file() else bank}-{space.spec}")
    return build_bank([str(bank)], space, out=cached, overwrite=True)
