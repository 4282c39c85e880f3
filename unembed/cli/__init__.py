"""The `unembed` command. Each sub-command lives in its own module with an `add_parser(subparsers)`."""

from __future__ import annotations

import argparse
import sys

from ..version import __version__
from ..errors import UnembedError
from . import arith, bank, bench, demo, eval, eval_set, explain, invert, minibind, run

# Modules whose add_parser() adds one top-level sub-command each, in the order `unembed --help` lists them.
COMMANDS = [bank, invert, explain, run, eval, eval_set, bench, minibind, arith, demo]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unembed", description="Read multimodal embeddings back into words.")
    parser.add_argument("--version", action="version", version=f"unembed {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command_line = ["unembed", *argv]  # as given: reports record how they were made (unembed bench)
    if argv[:1] == ["arith"]:
        argv = ["arith", *arith.detach_glued_minus(argv[1:])]
    args = build_parser().parse_args(argv)
    args.command_line = command_line
    try:
        return args.run(args) or 0
    except UnembedError as error:
        print(f"unembed: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("unembed: interrupted. Run the same command again to resume where it stopped.", file=sys.stderr)
        return 130


__all__ = ["main", "build_parser"]
