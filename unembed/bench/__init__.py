"""Benchmarks: each is a function `run_<name>(**settings) -> dict` that returns its report, measured against a
baseline run in the same process. `unembed bench NAME` (unembed.cli.bench) parses the options, calls it and
writes the report as JSON; a notebook calls it directly:

    from unembed.bench import run_minibind
    report = run_minibind(n=100, invert_n=20, open_world=True)
"""

from .arith import run_arith
from .bank import run_bank
from .decoder import run_decoder
from .explain import run_explain
from .grammar import run_grammar
from .invert import run_invert
from .minibind import run_minibind
from .scale import run_scale
from .serve import run_serve
from .space import run_space

__all__ = [
    "run_arith",
    "run_bank",
    "run_decoder",
    "run_explain",
    "run_grammar",
    "run_invert",
    "run_minibind",
    "run_scale",
    "run_serve",
    "run_space",
]
