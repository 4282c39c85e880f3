"""`unembed eval-set SPEC --out DIR`: write an eval set (targets.parquet, references.jsonl, exclude.txt)."""

from __future__ import annotations

from pathlib import Path

from ..errors import UnembedError
from ..evaluation import FILES, available_eval_sets, make_eval_set
from ..paths import exists
from ..registry import split_spec
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
    # The check of outputs over inputs (cli/files.py): the caption file a spec names is read, the set's files written.
    parser.set_defaults(run=run, reads=("spec",), writes=("out",), paths_of={"spec": spec_files, "out": written_files})


def spec_files(spec: str) -> list[str]:
    """The file or folder an eval set's spec reads, when its argument names one (`captions:my_captions.txt`)."""
    try:
        _, argument = split_spec(spec)
    except UnembedError:  # a malformed spec: make_eval_set says what is wrong with it
        return []
    return [argument] if argument and exists(argument) else []


def written_files(out: Path) -> list[Path]:
    """The files `unembed eval-set --out DIR` writes: targets.parquet, references.jsonl, exclude.txt, eval_set.json."""
    return [Path(out) / name for name in FILES.values()]


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
