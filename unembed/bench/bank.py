"""`unembed bench bank` (`run_bank`): ANN search speed, recall and memory on a synthetic bank shaped like real captions.

Baselines measured in the same run: exact (Flat) search on the same vectors, and MILS's reference
bootstrap, which re-encodes the whole `mils-image` bank with the space for every sample.
"""

from __future__ import annotations

import resource
import time

import faiss
import numpy as np

from .. import checks
from ..errors import InputError
from ..index import Bank, collect_captions, make_index, set_search_params
from ..spaces import load_space

# ~4*sqrt(n) lists of 8-bit codes; 64 lists probed, then the 4*k best re-ranked exactly (RFlat): see README.
LARGE_BANK_INDEX = "IVF4096,SQ8,RFlat"
LARGE_BANK_PARAMS = "nprobe=64,k_factor_rf=4"


def recommended_index(n: int) -> tuple[str, str]:
    """Index-factory string and search parameters we recommend for a bank of `n` captions."""
    if n <= 200_000:
        return "Flat", ""
    return LARGE_BANK_INDEX, LARGE_BANK_PARAMS


def p50_ms(timings: list[float]) -> float:
    return float(np.median(timings) * 1000)


def time_single_queries(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[list[float], np.ndarray]:
    """Search one query at a time (batch 1, as the inverter bootstraps one target); per-query seconds."""
    timings, found = [], []
    for query in queries:
        start = time.perf_counter()
        _, ids = index.search(query[None, :], k)
        timings.append(time.perf_counter() - start)
        found.append(ids[0])
    return timings, np.stack(found)


def recall_at(found: np.ndarray, exact: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact, strict=True)]))


def synthetic_unit_vectors(centres: np.ndarray, n: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    """`n` unit vectors, each a random centre plus Gaussian noise of norm ~`spread`: clusters like a real bank."""
    out = np.empty((n, centres.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        noise = rng.standard_normal((stop - start, centres.shape[1]), dtype=np.float32)
        noise *= spread / np.sqrt(centres.shape[1])
        block = centres[rng.integers(len(centres), size=stop - start)] + noise
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


# 0.5 makes a 200k synthetic bank's top-1/10/50 neighbour cosines (0.82/0.71/0.61) a little looser
# than those of the real 28k mils-image bank (0.86/0.74/0.64): no easier than real captions.
SPREAD = 0.5
K = 50  # MILS keeps up to 50 bootstrap candidates


def run_bank(
    *,
    n=100_000,
    index=None,
    search_params=None,
    sweep=(),
    queries=200,
    space="minilm",
    source="mils-image",
    spread=SPREAD,
    threads=1,
    seed=0,
) -> dict:
    """The report. n: synthetic bank size; index: a FAISS factory string (default: `recommended_index(n)`);
    search_params: e.g. "nprobe=64,k_factor_rf=4"; sweep: more search-parameter sets measured on the same
    index; queries: query vectors, searched one at a time; source: the real captions the synthetic vectors
    cluster around; spread: the noise norm around each caption embedding; threads: FAISS OpenMP threads for
    the timed queries (building uses all cores)."""
    checks.count(n, "n")
    checks.count(queries, "queries")
    checks.count(threads, "threads")
    if not 0 <= checks.number(spread, "spread") <= 2:
        raise InputError(f"spread is a noise norm around unit vectors, from 0 to 2; got {spread!r}.")
    rng = np.random.default_rng(seed)
    index_spec, default_params = recommended_index(n)
    index_spec = index or index_spec
    search_params = default_params if search_params is None else search_params
    k = K

    space = load_space(space)
    captions = collect_captions([source])
    start = time.perf_counter()
    caption_vectors = space.embed_text(captions)  # the reference bootstrap: re-encode the whole bank
    reencode_s = time.perf_counter() - start
    build_threads = faiss.omp_get_max_threads()
    # One query at a time is a single-threaded job; with 2 OpenMP threads on a busy 2-core machine the
    # idle thread's barrier stalls a query for a scheduler slice (measured: p50 0.7 -> 16 ms).
    faiss.omp_set_num_threads(threads)

    real_bank = Bank.from_vectors(captions, caption_vectors, space)
    bootstrap_queries = caption_vectors[rng.choice(len(captions), size=min(100, len(captions)), replace=False)]
    bootstrap_timings, _ = time_single_queries(real_bank.index, bootstrap_queries, k)
    bootstrap_query_s = float(np.median(bootstrap_timings))

    vectors = synthetic_unit_vectors(caption_vectors, n, spread, rng)
    query_vectors = synthetic_unit_vectors(caption_vectors, queries, spread, rng)

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    _, exact = flat.search(query_vectors, k)
    flat_timings, _ = time_single_queries(flat, query_vectors[:50], k)
    flat_bytes = int(vectors.nbytes)
    del flat

    faiss.omp_set_num_threads(build_threads)
    start = time.perf_counter()
    index = make_index(vectors, index_spec, seed=seed)
    build_s = time.perf_counter() - start
    faiss.omp_set_num_threads(threads)
    del vectors

    def measure(params: str) -> dict:
        set_search_params(index, params)
        timings, found = time_single_queries(index, query_vectors, k)
        return {
            "search_params": params,
            "query_ms_p50": p50_ms(timings),
            "query_ms_p95": float(np.percentile(timings, 95) * 1000),
            "recall_at_10": recall_at(found, exact, 10),
            "recall_at_50": recall_at(found, exact, 50),
        }

    swept = [measure(params) for params in sweep]
    chosen = measure(search_params)

    return {
        "n_vectors": n,
        "dim": int(caption_vectors.shape[1]),
        "space": space.spec,
        "index": index_spec,
        **chosen,
        "threads": threads,
        "build_threads": build_threads,
        "k": k,
        "queries": len(query_vectors),
        "flat_query_ms_p50": p50_ms(flat_timings),
        "speedup_vs_flat": p50_ms(flat_timings) / chosen["query_ms_p50"],
        "build_s": build_s,
        "index_bytes": int(faiss.serialize_index(index).nbytes),
        "flat_index_bytes": flat_bytes,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "reference_bank": source,
        "reference_bank_size": len(captions),
        "reencode_s": reencode_s,
        "bootstrap_query_ms_p50": bootstrap_query_s * 1000,
        "bootstrap_speedup_vs_reencode": reencode_s / bootstrap_query_s,
        "sweep": swept,
    }
