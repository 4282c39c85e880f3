"""`unembed run`: invert a collection (vectors, or media embedded on the fly) into Parquet shards, resumably."""

from __future__ import annotations

import os

from ..runner import run_job
from ..runner.job import MANIFEST
from .options import GENERATOR_FAILED, add_generation_options, add_ray_options, inversion_options, ray_options
from .terminal import warn


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="invert a whole collection into Parquet (resumable; in process or on Ray)",
        description="Invert every target of INPUT into Parquet shards in --out. Run the same command again to resume: "
        "targets done are skipped, failed ones retried, no id is written twice.",
    )
    parser.add_argument(
        "input",
        help="targets: a .npy (n, dim); a .parquet/.jsonl with an 'id' column and a 'vector' "
        "or media 'path' column; or a folder of images or audio",
    )
    parser.add_argument("--out", required=True, help="output folder of Parquet shards (e.g. predictions.parquet/)")
    parser.add_argument("--space", default="minilm", help="embedding space spec (default: minilm)")
    parser.add_argument("--bank", default=None, help="bank folder, caption file or named source (default: the space's for the modality)")
    parser.add_argument(
        "--modality",
        choices=["image", "audio", "text"],
        default=None,
        help="which prompt and defaults (default: the media's; image for vectors)",
    )
    parser.add_argument(
        "--exclude",
        default=None,
        metavar="FILE",
        help="captions (one per line) the bank bootstrap skips: the held-out references of an evaluation",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="targets per batch and per shard (default 16)")
    add_ray_options(parser, "run on Ray", "Ray workers (actors), each holding the space and generator once")
    add_generation_options(parser)
    # Its --out never lies in what it reads: a run written into its folder of media would be read as targets when it
    # resumes, and one written into a bank folder would keep the bank from being rebuilt.
    parser.set_defaults(run=run, resumes=True, reads=("input", "bank", "exclude"), writes=("out",), paths_of={"out": written_files})


def written_files(out: str) -> list[str]:
    """What `unembed run --out DIR` writes: DIR/_job.json, and its Parquet shards beside it."""
    return [os.path.join(out, MANIFEST)]


def run(args) -> int:
    report = run_job(
        args.input,
        args.out,
        space=args.space,
        bank=args.bank,
        modality=args.modality,
        exclude=args.exclude,
        batch_size=args.batch_size,
        **ray_options(args),
        progress=True,
        **inversion_options(args),
    )
    print(
        f"{report.out}: {report.total} targets; {report.skipped} done before, {report.inverted} inverted now "
        f"in {report.seconds:.1f} s, {report.failed} failed"
    )
    if report.failed:
        warn(f"unembed: {report.failed} row(s) record an error (column 'error'); run the same command again to retry them.")
        return GENERATOR_FAILED
    return 0
