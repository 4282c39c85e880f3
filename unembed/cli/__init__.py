"""The `unembed` command. Each sub-command lives in its own module with an `add_parser(subparsers)`.

The sub-commands' modules import torch and the rest (seconds): `main` imports them inside its Ctrl-C handling, so an
interrupt while they load ends as quietly as one later (exit 130). Only light modules are imported here.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from types import ModuleType

from ..errors import LicenceWarning, UnembedError
from ..version import __version__
from .files import refuse_outputs_over_inputs
from .terminal import printable, printable_stdout, quiet_broken_pipe, warn


def commands() -> list[ModuleType]:
    """Modules whose add_parser() adds one top-level sub-command each, in the order `unembed --help` lists them."""
    from . import arith, bank, bench, demo, eval, eval_set, explain, invert, minibind, run, serve, train_decoder

    return [bank, invert, train_decoder, explain, run, eval, eval_set, bench, minibind, arith, serve, demo]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unembed", description="Read multimodal embeddings back into words.")
    parser.add_argument("--version", action="version", version=f"unembed {__version__}")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v", "--verbose", action="store_const", dest="log_level", const=logging.DEBUG, default=logging.INFO, help="show debug messages too"
    )
    loudness.add_argument(
        "-q",
        "--quiet",
        action="store_const",
        dest="log_level",
        const=logging.WARNING,
        help="show only warnings and errors (progress bars stay)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands():
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command_line = ["unembed", *argv]  # as given: reports record how they were made (unembed bench)
    args = None
    try:
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread: its exit hook printed a traceback after a Ctrl-C
        parser = build_parser()  # imports the sub-commands (torch): inside the try, so Ctrl-C here is quiet too
        if argv[:1] == ["arith"]:
            from .arith import detach_glued_minus

            argv = ["arith", *detach_glued_minus(argv[1:])]
        args = parser.parse_args(argv)
        args.command_line = command_line
        configure_logging(vars(args).pop("log_level"))  # taken off: sub-commands pass their settings on whole (unembed bench)
        refuse_outputs_over_inputs(args)
        with printable_stdout():
            return args.run(args) or 0
    except UnembedError as error:
        warn(f"unembed: error: {error}")
        return 2
    except KeyboardInterrupt:
        # Only a command that keeps its progress and declares `set_defaults(resumes=True)` (a bank build, a run, a
        # decoder's training, bench bank's work folder) resumes when run again; the others (an inversion, a server)
        # say only that they stopped: telling them to resume would promise what they do not do.
        if getattr(args, "resumes", False):
            warn("unembed: interrupted. Run the same command again to resume where it stopped.")
        else:
            warn("unembed: interrupted; stopped.")
        return 130
    except BrokenPipeError:
        return quiet_broken_pipe()


class _StderrHandler(logging.Handler):
    """Writes each record as `unembed: message` to the current sys.stderr, through tqdm so a progress bar stays whole."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(printable(self.format(record)), file=sys.stderr)
        except Exception:
            self.handleError(record)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """unembed's own warnings (LicenceWarning) as log lines; any other warning as Python shows it."""
    if issubclass(category, LicenceWarning):
        logging.getLogger("unembed").warning("warning: %s", message)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


def configure_logging(level: int = logging.INFO) -> None:
    """The command's logging: records of the `unembed` loggers at `level` and above, as `unembed: message` on stderr."""
    logger = logging.getLogger("unembed")
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)  # main() may run more than once in a process (tests)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("unembed: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    warnings.showwarning = _show_warning


__all__ = ["main", "build_parser", "commands", "configure_logging"]
