"""Outputs never overwrite inputs: one check for every command that writes files.

A command declares which of its arguments name files it reads and which name files it writes
(`parser.set_defaults(reads=(...), writes=(...))`); before it runs, `main` refuses an output that is the same file as
one of its inputs (`--json v.npy` beside `--vector v.npy`, `eval predictions.parquet --json predictions.parquet`),
however it is spelled (another relative path, a symbolic link, a hard link), and an output inside an input folder
(`--json BANK/texts.txt`, `eval RUN --json RUN/part-000000.parquet`).
"""

from __future__ import annotations

import argparse
import os

from ..errors import InputError


def refuse_outputs_over_inputs(args: argparse.Namespace) -> None:
    inputs = [path for name in getattr(args, "reads", ()) for path in _paths(getattr(args, name, None))]
    for name in getattr(args, "writes", ()):
        for output in _paths(getattr(args, name, None)):
            for source in inputs:
                if _same_file(output, source) or _inside(output, source):
                    what = "the same file as" if _same_file(output, source) else "inside"
                    raise InputError(
                        f"--{name.replace('_', '-')} {output} is {what} the input {source}: writing it would destroy "
                        "the input. Choose another path for the output."
                    )


def _paths(value) -> list[str]:
    values = value if isinstance(value, (list, tuple)) else [value]
    return [os.fspath(each) for each in values if isinstance(each, (str, os.PathLike))]


def _inside(output: str, folder: str) -> bool:
    """Whether `output` lies in the input `folder` (a bank, a run's shards), however either is spelled."""
    if not os.path.isdir(folder):
        return False
    parent, root = os.path.realpath(os.path.dirname(os.path.abspath(output))), os.path.realpath(folder)
    return parent == root or parent.startswith(root + os.sep)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one of them does not exist (yet): it cannot be the other
        return False
