"""`unembed bench WHAT`: each benchmark module adds its own sub-command and writes a JSON report."""

from __future__ import annotations

from ..bench import arith, bank, explain, invert, minibind, scale, space

BENCHES = [bank, space, invert, minibind, arith, explain, scale]


def add_parser(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="measure speed, memory and quality; write a JSON report")
    benches = bench.add_subparsers(dest="bench_command", required=True, metavar="WHAT")
    for module in BENCHES:
        module.add_parser(benches)
