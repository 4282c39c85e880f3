"""`unembed bench bank`: ANN search speed, recall and memory on a synthetic bank shaped like real captions.

Baselines measured in the same run: exact (Flat) search on the same vectors, and MILS's reference
bootstrap, which re-encodes the whole `mils-image` bank with the space for every sample.
"""

from __future__ import annotations

import resource
import time

import faiss
import numpy as np

from .. import atomic
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


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("bank", help="FAISS bank search: latency, recall vs exact, build time, memory")
    parser.add_argument("--n", type=int, default=100_000, help="synthetic bank size (default 100000)")
    parser.add_argument("--index", default=None, metavar="SPEC", help="faiss factory string (default: recommended for --n)")
    parser.add_argument("--search-params", default=None, metavar="PARAMS", help="e.g. nprobe=64,k_factor_rf=4")
    parser.add_argument("--sweep", nargs="+", default=[], metavar="PARAMS",
                        help="also measure these search-parameter sets on the same index, e.g. nprobe=32 nprobe=64")
    parser.add_argument("--queries", type=int, default=200, help="query vectors, searched one at a time")
    parser.add_argument("--space", default="minilm")
    parser.add_argument("--source", default="mils-image", help="real captions the synthetic vectors cluster around")
    # 0.5 makes a 200k synthetic bank's top-1/10/50 neighbour cosines (0.82/0.71/0.61) a little looser
    # than those of the real 28k mils-image bank (0.86/0.74/0.64): no easier than real captions.
    parser.add_argument("--spread", type=float, default=0.5, help="noise norm around each caption embedding")
    # One query at a time is a single-threaded job; with 2 OpenMP threads on a busy 2-core machine the
    # idle thread's barrier stalls a query for a scheduler slice (measured: p50 0.7 -> 16 ms).
    parser.add_argument("--threads", type=int, default=1,
                        help="FAISS OpenMP threads for the timed queries (default 1; building uses all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", required=True, help="where to write the report")
    parser.set_defaults(run=run)


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
    return float(np.mean([len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact)]))


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


def run(args) -> int:
    rng = np.random.default_rng(args.seed)
    index_spec, default_params = recommended_index(args.n)
    index_spec = args.index or index_spec
    search_params = default_params if args.search_params is None else args.search_params
    k = 50  # MILS keeps up to 50 bootstrap candidates

    space = load_space(args.space)
    captions = collect_captions([args.source])
    start = time.perf_counter()
    caption_vectors = space.embed_text(captions)  # the reference bootstrap: re-encode the whole bank
    reencode_s = time.perf_counter() - start
    build_threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(args.threads)

    real_bank = Bank.from_vectors(captions, caption_vectors, space)
    bootstrap_queries = caption_vectors[rng.choice(len(captions), size=min(100, len(captions)), replace=False)]
    bootstrap_timings, _ = time_single_queries(real_bank.index, bootstrap_queries, k)
    bootstrap_query_s = float(np.median(bootstrap_timings))

    vectors = synthetic_unit_vectors(caption_vectors, args.n, args.spread, rng)
    queries = synthetic_unit_vectors(caption_vectors, args.queries, args.spread, rng)

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    _, exact = flat.search(queries, k)
    flat_timings, _ = time_single_queries(flat, queries[: min(50, len(queries))], k)
    flat_bytes = int(vectors.nbytes)
    del flat

    faiss.omp_set_num_threads(build_threads)
    start = time.perf_counter()
    index = make_index(vectors, index_spec, seed=args.seed)
    build_s = time.perf_counter() - start
    faiss.omp_set_num_threads(args.threads)
    del vectors

    def measure(params: str) -> dict:
        set_search_params(index, params)
        timings, found = time_single_queries(index, queries, k)
        return {"search_params": params, "query_ms_p50": p50_ms(timings), "query_ms_p95": float(np.percentile(timings, 95) * 1000),
                "recall_at_10": recall_at(found, exact, 10), "recall_at_50": recall_at(found, exact, 50)}

    sweep = [measure(params) for params in args.sweep]
    chosen = measure(search_params)

    report = {
        "n_vectors": args.n,
        "dim": int(caption_vectors.shape[1]),
        "space": space.spec,
        "index": index_spec,
        **chosen,
        "threads": args.threads,
        "build_threads": build_threads,
        "k": k,
        "queries": len(queries),
        "flat_query_ms_p50": p50_ms(flat_timings),
        "speedup_vs_flat": p50_ms(flat_timings) / chosen["query_ms_p50"],
        "build_s": build_s,
        "index_bytes": int(faiss.serialize_index(index).nbytes),
        "flat_index_bytes": flat_bytes,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "reference_bank": args.source,
        "reference_bank_size": len(captions),
        "reencode_s": reencode_s,
        "bootstrap_query_ms_p50": bootstrap_query_s * 1000,
        "bootstrap_speedup_vs_reencode": reencode_s / bootstrap_query_s,
        "sweep": sweep,
    }
    atomic.write_json(args.json, report)
    for key, value in report.items():
        print(f"{key:>32}: {value:.4g}" if isinstance(value, float) else f"{key:>32}: {value}")
    return 0
