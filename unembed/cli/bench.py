"""`unembed bench WHAT`: benchmarks. Each module in BENCH_MODULES adds one `bench` sub-command."""

from __future__ import annotations

import importlib

BENCH_MODULES = [
    "unembed.bench.invert",
]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="run a benchmark and write its figures to JSON")
    bench_subparsers = parser.add_subparsers(dest="bench", required=True, metavar="WHAT")
    for module_name in BENCH_MODULES:
        importlib.import_module(module_name).add_parser(bench_subparsers)
