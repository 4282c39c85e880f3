"""`unembed bench bank` (`run_bank`): ANN search speed, recall and memory on a synthetic bank shaped like real captions.

The synthetic vectors are written to a vectors file in a work folder (never all in memory: 10M x 384 is 15 GB), the
bank is built from that file in a fresh process (its peak memory is the build's) and searched in another fresh process
that loads it as a user would (its peak memory is the query-time one). Baselines measured in the same run: exact search
on the same vectors (a scan of the file), and MILS's reference bootstrap, which re-encodes the whole `mils-image` bank
with the space for every sample. An interrupted run resumes: the vectors file is reused once complete.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
from tqdm.auto import tqdm

from .. import checks
from ..errors import InputError
from ..index import Bank, VectorFile, collect_captions, load_bank, write_vector_file
from ..paths import cache_dir, safe_name
from ..spaces import load_space

# Measured choices (docs/bench/bank-1m-minilm.json, bank-10m-minilm*.json; the banks guide): up to a few million,
# 8-bit codes and 64 lists probed; past that, 4-bit fast-scan PQ codes (a tenth of the memory, several times faster
# to scan), whose coarser shortlist of 8*k is re-ranked from vectors.npy.
LARGE_BANK_INDEX = "IVF4096,SQ8,RFlat"
LARGE_BANK_PARAMS = "nprobe=64,k_factor_rf=4"
HUGE_BANK_INDEX = "IVF4096,PQ96x4fs,RFlat"
HUGE_BANK_PARAMS = "nprobe=16,k_factor_rf=8"


def recommended_index(n: int) -> tuple[str, str]:
    """Index-factory string and search parameters we recommend for a bank of `n` captions."""
    if n <= 200_000:
        return "Flat", ""
    if n <= 3_000_000:
        return LARGE_BANK_INDEX, LARGE_BANK_PARAMS
    return HUGE_BANK_INDEX, HUGE_BANK_PARAMS


def p50_ms(timings: list[float]) -> float:
    return float(np.median(timings) * 1000)


def time_single_queries(search: Callable[[np.ndarray], np.ndarray], queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    """Search one query at a time (batch 1, as the inverter bootstraps one target); per-query seconds and the ids."""
    timings, found = [], []
    for query in queries:
        start = time.perf_counter()
        found.append(search(query[None, :]))
        timings.append(time.perf_counter() - start)
    return timings, np.stack(found)


def recall_at(found: np.ndarray, exact: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact, strict=True)]))


def synthetic_unit_vectors(centres: np.ndarray, n: int, spread: float, rng: np.random.Generator, block: int = 100_000):
    """Blocks of `n` unit vectors in all, each row a random centre plus Gaussian noise of norm ~`spread`: clusters like
    a real bank. Yields (centre ids, vectors) per block."""
    for start in range(0, n, block):
        rows = min(n, start + block) - start
        noise = rng.standard_normal((rows, centres.shape[1]), dtype=np.float32)
        noise *= spread / np.sqrt(centres.shape[1])
        chosen = rng.integers(len(centres), size=rows)
        vectors = centres[chosen] + noise
        yield chosen, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact_top_k(vectors: VectorFile, queries: np.ndarray, k: int) -> np.ndarray:
    """The ids of each query's `k` nearest rows by inner product, from one pass over the file."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.full((len(queries), k), -1, dtype=np.int64)
    start = 0
    for block in vectors.blocks():
        scores = np.concatenate([best_scores, queries @ block.T], axis=1)
        ids = np.concatenate([best_ids, np.broadcast_to(np.arange(start, start + len(block)), (len(queries), len(block)))], axis=1)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best_scores, best_ids = np.take_along_axis(scores, top, 1), np.take_along_axis(ids, top, 1)
        start += len(block)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_ids, order, 1)


# 0.5 makes a 200k synthetic bank's top-1/10/50 neighbour cosines (0.82/0.71/0.61) a little looser
# than those of the real 28k mils-image bank (0.86/0.74/0.64): no easier than real captions.
SPREAD = 0.5
K = 50  # MILS keeps up to 50 bootstrap candidates


def _synthetic_bank(work: Path, caption_vectors: np.ndarray, n: int, spread: float, seed: int) -> tuple[VectorFile, np.ndarray]:
    """The bench's vectors file and each row's centre (a caption id), written once per work folder and reused after."""
    vectors_path, centres_path = work / "vectors.npy", work / "centres.npy"
    if vectors_path.is_file() and centres_path.is_file():
        vectors, centres = VectorFile(vectors_path), np.load(centres_path, allow_pickle=False)
        if vectors.shape == (n, caption_vectors.shape[1]) and centres.shape == (n,):
            return vectors, centres
    work.mkdir(parents=True, exist_ok=True)
    centres = np.empty(n, dtype=np.int64)

    def blocks():
        done = 0
        with tqdm(total=n, desc="synthetic vectors", unit="vector", disable=n < 1_000_000) as bar:
            for chosen, block in synthetic_unit_vectors(caption_vectors, n, spread, np.random.default_rng([seed, 1])):
                centres[done : done + len(block)] = chosen
                done += len(block)
                bar.update(len(block))
                yield block

    write_vector_file(work / ".vectors.npy", blocks(), n, caption_vectors.shape[1])
    np.save(centres_path, centres, allow_pickle=False)
    os.replace(work / ".vectors.npy", vectors_path)  # last: a complete vectors file means a complete pair
    return VectorFile(vectors_path), centres


def _build(work: Path, captions: list[str], space: str, index: str, search_params: str) -> dict:
    """In a fresh process: the bank of the work folder's vectors (each row's text: its centre's caption), saved."""
    centres = np.load(work / "centres.npy", allow_pickle=False)
    start = time.perf_counter()
    bank = Bank.from_vectors(
        [captions[i] for i in centres], VectorFile(work / "vectors.npy"), load_space(space), index=index, search_params=search_params
    )
    bank.save(work / "bank", overwrite=True, link_vectors=True)
    return {
        "build_s": time.perf_counter() - start,
        "build_threads": faiss.omp_get_max_threads(),
        "build_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _query(bank_path: Path, queries: np.ndarray, settings: list[str], threads: int, k: int) -> dict:
    """In a fresh process: load the bank as a user would and time one query at a time under each search setting."""
    # One query at a time is a single-threaded job; with 2 OpenMP threads on a busy 2-core machine the
    # idle thread's barrier stalls a query for a scheduler slice (measured: p50 0.7 -> 16 ms).
    faiss.omp_set_num_threads(threads)
    start = time.perf_counter()
    bank = load_bank(bank_path)
    load_s = time.perf_counter() - start
    # The first pass reads each shortlist's rows from disk (a fresh bank's vectors are not in the page cache yet):
    # timed apart, so that the settings compare in the state a bank in use is in.
    bank.set_search_params(settings[-1])
    cold, _ = time_single_queries(lambda query: bank.search(query, k).ids[0], queries)
    # Each query under every setting in turn: a change in the machine's load falls on all settings alike.
    seconds: list[list[float]] = [[] for _ in settings]
    ids: list[list[np.ndarray]] = [[] for _ in settings]
    for query in queries:
        for number, params in enumerate(settings):
            bank.set_search_params(params)
            timings, found = time_single_queries(lambda query: bank.search(query, k).ids[0], query[None, :])
            seconds[number] += timings
            ids[number].append(found[0])
    runs = [
        {"search_params": params, "timings": timings, "found": np.stack(found)}
        for params, timings, found in zip(settings, seconds, ids, strict=True)
    ]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"load_s": load_s, "cold_query_ms_p50": p50_ms(cold), "query_rss_mb": rss, "runs": runs}


def _in_fresh_process(function, *args):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


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
    work=None,
) -> dict:
    """The report. n: synthetic bank size; index: a FAISS factory string (default: `recommended_index(n)`);
    search_params: e.g. "nprobe=64,k_factor_rf=4"; sweep: more search-parameter sets measured on the same
    index; queries: query vectors, searched one at a time; source: the real captions the synthetic vectors
    cluster around; spread: the noise norm around each caption embedding; threads: FAISS OpenMP threads for
    the timed queries (building uses all cores); work: the folder for the vectors file and the bank (default:
    under the cache; n x dim x 4 bytes for the vectors, which the bank links, plus the index)."""
    checks.count(n, "n")
    checks.count(queries, "queries")
    checks.count(threads, "threads")
    if not 0 <= checks.number(spread, "spread") <= 2:
        raise InputError(f"spread is a noise norm around unit vectors, from 0 to 2; got {spread!r}.")
    index_spec, default_params = recommended_index(n)
    index_spec = index or index_spec
    search_params = default_params if search_params is None else search_params
    work = Path(work) if work is not None else cache_dir("bench") / safe_name(f"bank-{n}-{source}-{spread}-{seed}")
    k = K

    space = load_space(space)
    captions = collect_captions([source])
    start = time.perf_counter()
    caption_vectors = space.embed_text(captions)  # the reference bootstrap: re-encode the whole bank
    reencode_s = time.perf_counter() - start
    faiss.omp_set_num_threads(threads)
    real_bank = Bank.from_vectors(captions, caption_vectors, space)
    rng = np.random.default_rng(seed)
    bootstrap_queries = caption_vectors[rng.choice(len(captions), size=min(100, len(captions)), replace=False)]
    bootstrap_timings, _ = time_single_queries(lambda query: real_bank.index.search(query, k)[1][0], bootstrap_queries)
    bootstrap_query_s = float(np.median(bootstrap_timings))

    vectors, _ = _synthetic_bank(work, caption_vectors, n, spread, seed)
    _, query_vectors = next(synthetic_unit_vectors(caption_vectors, queries, spread, np.random.default_rng([seed, 2])))
    query_vectors = query_vectors.astype(np.float32)
    exact = exact_top_k(vectors, query_vectors, k)
    flat_timings, _ = time_single_queries(lambda query: exact_top_k(vectors, query, k)[0], query_vectors[: 3 if n > 1_000_000 else 20])

    build = _in_fresh_process(_build, work, captions, space.spec, index_spec, search_params)
    searched = _in_fresh_process(_query, work / "bank", query_vectors, [*sweep, search_params], threads, k)

    def figures(run: dict) -> dict:
        return {
            "search_params": run["search_params"],
            "query_ms_p50": p50_ms(run["timings"]),
            "query_ms_p95": float(np.percentile(run["timings"], 95) * 1000),
            "recall_at_10": recall_at(run["found"], exact, 10),
            "recall_at_50": recall_at(run["found"], exact, 50),
        }

    *swept, chosen = [figures(run) for run in searched["runs"]]
    return {
        "n_vectors": n,
        "seed": seed,
        "spread": spread,
        "dim": int(caption_vectors.shape[1]),
        "space": space.spec,
        "index": index_spec,
        **chosen,
        "threads": threads,
        "k": k,
        "queries": len(query_vectors),
        "flat_query_ms_p50": p50_ms(flat_timings),
        "flat_queries_timed": len(flat_timings),
        "speedup_vs_flat": p50_ms(flat_timings) / chosen["query_ms_p50"],
        **build,
        "load_s": searched["load_s"],
        "cold_query_ms_p50": searched["cold_query_ms_p50"],
        "query_rss_mb": searched["query_rss_mb"],
        "index_bytes": (work / "bank" / "index.faiss").stat().st_size,
        "vectors_bytes": (work / "bank" / "vectors.npy").stat().st_size if (work / "bank" / "vectors.npy").exists() else 0,
        "flat_index_bytes": n * int(caption_vectors.shape[1]) * 4,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "reference_bank": source,
        "reference_bank_size": len(captions),
        "reencode_s": reencode_s,
        "bootstrap_query_ms_p50": bootstrap_query_s * 1000,
        "bootstrap_speedup_vs_reencode": reencode_s / bootstrap_query_s,
        "sweep": swept,
    }
