"""The `unembed` command. Each sub-command lives in its own module with an `add_parser(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import UnembedError

# Modules whose add_parser() adds one top-level sub-command each.
COMMAND_MODULES = [
    "unembed.cli.bank",
    "unembed.cli.invert",
    "unembed.cli.bench",
    "unembed.cli.minibind",
    "unembed.cli.arith",
    "unembed.cli.demo",
]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="unembed", description="Read multimodal embeddings back into words.")
    parser.add_argument("--version", action="version", version=f"unembed {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["arith"]:
        from .arith import detach_glued_minus

        argv = ["arith", *detach_glued_minus(argv[1:])]
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except UnembedError as error:
        print(f"unembed: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("unembed: interrupted. Run the same command again to resume where it stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
