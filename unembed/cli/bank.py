"""`unembed bank build|search|info`: caption banks from the command line."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np

from ..errors import BankError
from ..index import Bank, build_bank, load_bank
from ..index.bank import ChunkEncoder, read_manifest
from ..paths import named_paths
from ..spaces import Space, load_space
from ..vectors import load_vectors
from .options import add_ray_options, ray_options, refuse_blank_text


def add_parser(subparsers) -> None:
    bank = subparsers.add_parser("bank", help="build, search and inspect caption banks")
    commands = bank.add_subparsers(dest="bank_command", required=True, metavar="ACTION")

    build = commands.add_parser("build", help="encode captions with a space and index them with FAISS")
    build.add_argument("--space", default="minilm", help="space spec, e.g. minilm (default) or openclip:ViT-B-32/openai")
    build.add_argument(
        "--from",
        dest="sources",
        nargs="+",
        required=True,
        metavar="FILE_OR_SOURCE",
        help="text files (one caption per line) or named sources: mils-image, mils-audio, minibind-image, minibind-audio",
    )
    build.add_argument("--out", required=True, type=Path, help="bank directory to write")
    build.add_argument(
        "--index",
        default="Flat",
        metavar="SPEC",
        help="faiss index-factory string: Flat (default, exact), HNSW32, IVF4096,SQ8,RFlat for ~1M captions",
    )
    build.add_argument(
        "--search-params", default="", metavar="PARAMS", help="default search parameters stored with the bank, e.g. nprobe=32,k_factor_rf=4"
    )
    build.add_argument("--batch-size", type=int, default=256)
    build.add_argument(
        "--chunk-size", type=int, default=16_384, help="captions per checkpointed chunk (and per Ray task with --ray; default 16384)"
    )
    build.add_argument(
        "--shards",
        type=int,
        default=1,
        help="write the bank as this many shard folders of consecutive captions, filled from one trained index: "
        "searched as one bank, with the answers of one index (default 1)",
    )
    build.add_argument("--overwrite", action="store_true", help="replace an existing bank at --out")
    add_ray_options(build, "encode the captions on Ray", "Ray workers (actors), each holding the space once")
    build.set_defaults(run=run_build, resumes=True)

    search = commands.add_parser("search", help="nearest captions to a text or a vector")
    search.add_argument("bank", type=Path)
    query = search.add_mutually_exclusive_group(required=True)
    query.add_argument("--text", help="embed this text with the bank's space and search")
    query.add_argument("--vector", type=Path, metavar="FILE.npy", help="a (dim,) or (n, dim) float array")
    search.add_argument(
        "--space",
        default=None,
        help="the space that embeds --text; must be the bank's (default: the bank's own, unless it names a path on this machine)",
    )
    search.add_argument("-k", type=int, default=10)
    search.add_argument("--search-params", default=None, metavar="PARAMS", help="override, e.g. nprobe=64")
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")
    search.add_argument("--gpu", action="store_true", help="search on the GPU(s) (needs the gpu extra)")
    search.set_defaults(run=run_search)

    info = commands.add_parser("info", help="print a bank's manifest")
    info.add_argument("bank", type=Path)
    info.set_defaults(run=run_info)


def run_build(args) -> int:
    bank = build_bank(
        args.sources,
        args.space,
        args.out,
        index=args.index,
        search_params=args.search_params,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        overwrite=args.overwrite,
        shards=args.shards,
        encoder=_encoder(args),
    )
    shards = f" in {len(bank.shards)} shards" if bank.shards else ""
    print(f"bank: {len(bank)} captions{shards}, space {bank.space_spec}, index {bank.manifest['index']} -> {bank.path}")
    return 0


def _encoder(args) -> ChunkEncoder | None:
    settings = ray_options(args)
    if not settings.pop("ray"):
        return None
    from ..runner.encoding import ray_encoder

    settings["start_timeout"] = settings.pop("ray_start_timeout")
    return ray_encoder(args.space, batch_size=args.batch_size, **settings)


def run_search(args) -> int:
    refuse_blank_text(args.text, "search for")
    bank = load_bank(args.bank, args.space, search_params=args.search_params)
    if args.gpu:
        bank.to_gpu()
    if args.text is not None:
        queries, labels = _text_space(bank, args.space).embed_text([args.text]), [args.text]
    else:
        queries = load_vectors(args.vector)
        labels = [f"{args.vector}[{i}]" for i in range(len(np.atleast_2d(queries)))]
    result = bank.search(queries, args.k)
    # A bank smaller than k pads ids with -1, which texts leave out: zip stops at the last real hit.
    rows = [
        {
            "query": label,
            "results": [
                {"rank": rank + 1, "score": float(score), "id": int(i), "text": text}
                for rank, (i, score, text) in enumerate(zip(ids, scores, texts, strict=False))
            ],
        }
        for label, ids, scores, texts in zip(labels, result.ids, result.scores, result.texts, strict=True)
    ]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    for row in rows:
        print(f"query: {row['query']}")
        for hit in row["results"]:
            print(f"{hit['rank']:>4}  {hit['score']:.4f}  {hit['text']}")
    return 0


def _text_space(bank: Bank, named: str | None) -> Space:
    """The space named with --space, else the bank's own, unless its spec names a place on this machine: a bank is
    a folder anyone can hand over, and its manifest must not choose which model files (code, pickles) get loaded."""
    places = named_paths(bank.space_spec)
    if named is None and places:
        raise BankError(
            f"{bank.path} was built with space {bank.space_spec!r}, which loads {places[0]} from this machine; unembed "
            f"loads a space from a path only when you name it. If you trust that path, pass --space {shlex.quote(bank.space_spec)}; "
            "or search with --vector."
        )
    return load_space(named or bank.space_spec)


def run_info(args) -> int:
    """The manifest; that of a bank failing its checks too, printed before the error: info is how one looks at a
    damaged bank (a manifest too damaged to read is only named)."""
    try:
        manifest = load_bank(args.bank).manifest
    except BankError:
        print(json.dumps(read_manifest(args.bank), indent=2))
        raise
    print(json.dumps(manifest, indent=2))
    return 0
