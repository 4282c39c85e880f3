"""Outputs never overwrite inputs: one check for every command that writes files.

A command declares which of its arguments name files it reads and which name files it writes
(`parser.set_defaults(reads=(...), writes=(...))`); before it runs, `main` refuses an output that is the same file as
one of its inputs (`--json v.npy` beside `--vector v.npy`, `eval predictions.parquet --json predictions.parquet`),
however it is spelled (another relative path, a symbolic link, a hard link), and an output inside an input folder
(`--json BANK/texts.txt`, `eval RUN --json RUN/part-000000.parquet`). An output the write would refuse whatever it
holds (a folder, a link, a device, a path under a file) is refused here too, before the command's work.

An argument whose value is not itself the path of the files it reads or writes (eval-set's SPEC
`captions:FILE`; its `--out DIR`, which receives the set's four files) is declared with the function that names them:
`parser.set_defaults(paths_of={"spec": ..., "out": ...})`, each taking the argument's value and returning its paths.
"""

from __future__ import annotations

import argparse
import os

from .. import atomic
from ..errors import InputError


def refuse_outputs_over_inputs(args: argparse.Namespace) -> None:
    paths_of = getattr(args, "paths_of", {})

    def paths(name: str) -> list[str]:
        value = getattr(args, name, None)
        return _paths(paths_of[name](value) if name in paths_of and value is not None else value)

    inputs = [path for name in getattr(args, "reads", ()) for path in paths(name)]
    for name in getattr(args, "writes", ()):
        option, given = f"--{name.replace('_', '-')}", _paths(getattr(args, name, None))
        for output in paths(name):
            for source in inputs:
                if _same_file(output, source) or _inside(output, source):
                    what = "the same file as" if _same_file(output, source) else "inside"
                    written = f"{option} {output} is" if given == [output] else f"{option} {' '.join(given)} writes {output},"
                    raise InputError(
                        f"{written} {what} the input {source}: writing it would destroy the input. Choose another path for {option}."
                    )
            atomic.check_writable(output)  # a folder, a device, a link or a path under a file: refused before the work


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
