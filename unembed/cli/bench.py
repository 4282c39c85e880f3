"""`unembed bench WHAT`: each benchmark module adds its own sub-command and writes a JSON report."""

from __future__ import annotations

import importlib

BENCH_MODULES = [
    "unembed.bench.bank",
    "unembed.bench.space",
    "unembed.bench.invert",
    "unembed.bench.minibind",
    "unembed.bench.arith",
]


def add_parser(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="measure speed, memory and quality; write a JSON report")
    benches = bench.add_subparsers(dest="bench_command", required=True, metavar="WHAT")
    for module_name in BENCH_MODULES:
        importlib.import_module(module_name).add_parser(benches)
