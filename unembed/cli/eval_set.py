"""`unembed eval-set SPEC --out DIR`: write an eval set (targets.parquet, references.jsonl, exclude.txt)."""

from __future__ import annotations

from pathlib import Path

from ..evaluation import available_eval_sets, make_eval_set
from .options import seed


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("eval-set", help="write held-out targets with known captions, for `unembed run` and `unembed eval`")
    parser.add_argument(
        "spec", metavar="SPEC", help=f"eval set: {', '.join(available_eval_sets())} (captions:FILE_OR_SOURCE for any caption file)"
    )
    parser.add_argument("--out", required=True, type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--n", type=int, default=100, help="targets (default 100)")
    parser.add_argument("--seed", type=seed, default=0, help="sampling seed (default 0)")
    parser.add_argument(
        "--space", default=None, help="space to embed the targets in (default: the set's own: minibind, or minilm for captions)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace another eval set in --out")
    parser.set_defaults(run=run)


def run(args) -> int:
    eval_set = make_eval_set(args.spec, n=args.n, seed=args.seed, space=args.space)
    paths = eval_set.write(args.out, overwrite=args.overwrite)
    print(
        f"wrote {len(eval_set.ids)} {eval_set.modality} targets in {eval_set.space} ({eval_set.spec}, seed {eval_set.seed}) to {args.out}"
    )
    print(
        f"  invert:   unembed run {paths['targets']} --space {eval_set.space} --bank {eval_set.bank} "
        f"--exclude {paths['exclude']} --out {args.out / 'predictions.parquet'}"
    )
    print(f"  evaluate: unembed eval {args.out / 'predictions.parquet'} --references {paths['references']} --column text,bootstrap_text")
    return 0
