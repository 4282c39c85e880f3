"""Checks of numbers the caller gives (counts, seconds, weights), shared by every room.

Each returns the value as the type the code needs, or raises InputError naming the setting and the fix.
bool is refused where a number is asked for: `True` as a count is always a mistake.
"""

from __future__ import annotations

import math
import numbers
import operator
import sys

from .errors import InputError


def count(value, name: str, *, minimum: int | None = 1, maximum: int | None = None) -> int:
    """`value` as an int in `minimum`..`maximum` (a whole float such as 5.0 is accepted; None: no bound)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a whole number; got {value!r}.")
    if isinstance(value, numbers.Integral):
        number = operator.index(value)
    elif math.isfinite(value) and float(value).is_integer():
        number = int(value)  # type: ignore[call-overload]  # typeshed's numbers.Real lacks __int__; float, Fraction, numpy's floats have it
    else:
        raise InputError(f"{name} must be a whole number; got {value!r}.")
    if minimum is not None and number < minimum:
        raise InputError(f"{name} must be at least {minimum}; got {number}.")
    if maximum is not None and number > maximum:
        raise InputError(f"{name} must be at most {maximum}; got {number}.")
    return number


# The most of anything a caller counts out (texts asked per step, kept, steps, a beam): far past any useful setting,
# and short of the hours or gigabytes that 10**8 would take before the first step ends.
COUNT_LIMIT = 10_000
# Characters that act on a terminal rather than show: C0 controls but tab and newline, DEL, C1 controls (8-bit CSI
# among them), and the bidirectional formatting characters (U+202E and the like), which reorder what follows them
# on screen ("Trojan Source"). A regular-expression character class's body.
TERMINAL_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
SEED_LIMIT = 2**32  # numpy's legacy RandomState, the narrowest of the generators a seed reaches, takes 0..2**32-1


def seed(value, name: str = "seed") -> int:
    """A seed every random generator unembed uses accepts: a whole number in 0..2**32-1."""
    return count(value, name, minimum=0, maximum=SEED_LIMIT - 1)


SECONDS_LIMIT = 1e6  # 11.6 days: longer is no deadline (and 1e10 s overflows the system's clock arithmetic)


def seconds(value, name: str = "timeout") -> float:
    """A positive, finite number of seconds, at most SECONDS_LIMIT."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a positive number of seconds; got {value!r}.")
    if float(value) > SECONDS_LIMIT:
        raise InputError(f"{name} must be at most {SECONDS_LIMIT:g} s (11.6 days); got {value!r}.")
    return float(value)


def number(value, name: str) -> float:
    """A finite real number, as float64."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number; got {value!r}.")
    return float(value)


def weight(value, name: str = "a term's weight") -> float:
    """A finite, non-zero real number, as float64."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a number; got {value!r}.")
    number = float(value)
    if not math.isfinite(number) or number == 0:
        raise InputError(f"{name} must be a finite non-zero number; got {value!r}. Drop the term instead of weighting it by 0.")
    if abs(number) < sys.float_info.min:  # subnormal: 1e-320 keeps a few bits, and beside a weight of 1 it is a 0
        raise InputError(f"{name} {value!r} is too small to weigh anything (below {sys.float_info.min:.1e}); drop the term instead.")
    return number
