"""`unembed eval PRED [PRED ...] --references REF`: caption metrics of runs side by side (unembed.evaluation)."""

from __future__ import annotations

from ..evaluation import METRICS, evaluate
from .terminal import warn


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="score predictions against reference captions (BLEU, METEOR, ROUGE-L, CIDEr, SPICE); runs side by side"
    )
    parser.add_argument("predictions", nargs="+", metavar="PRED", help="Parquet file or folder of shards written by `unembed run`")
    parser.add_argument(
        "--references",
        required=True,
        metavar="REF",
        help="COCO-captions .json, Clotho .csv, or .jsonl of {id, references} (what `unembed eval-set` writes)",
    )
    parser.add_argument(
        "--column",
        default="text",
        help="prediction column(s) to score, comma-separated: text (the loop), bootstrap_text (the bank alone); default text",
    )
    parser.add_argument(
        "--metrics",
        default=",".join(METRICS),
        help=f"comma-separated subset of {','.join(METRICS)} (default all; METEOR's start costs ~20 s)",
    )
    parser.add_argument(
        "--allow-failed", action="store_true", help="score the rows that succeeded when some failed (default: stop and say which)"
    )
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the report as JSON")
    parser.set_defaults(run=run, reads=("predictions", "references"), writes=("json",))


def run(args) -> int:
    report = evaluate(
        args.predictions, args.references, columns=args.column.split(","), metrics=args.metrics.split(","), allow_failed=args.allow_failed
    )
    for note in report.notes:
        warn(f"unembed: {note}")
    print(report.markdown())
    if args.json:
        report.save(args.json)
        print(f"wrote {args.json}")
    return 0
