"""Terms of a combination and their embedding: `image.png + rain.wav - "red" + "blue"`.

A term is a weight and an input: an embedding vector, an image, a sound, or a text. Every term is
embedded in ONE space, normalised, weighted, summed, and the sum re-normalised: the combined target.
A vector term made by another space (declared with `space=`), or of the wrong width, is refused,
since adding vectors of two spaces means nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import checks
from ..errors import InputError, SpaceMismatchError
from ..paths import exists, is_file, refuse_special
from ..spaces import Space, input_of, modality_of
from ..vectors import load_vectors, unit_rows

MODALITIES = ("vector", "image", "audio", "text")
# A sum shorter than this share of the summed weights has cancelled out: its direction is noise.
CANCELLED = 1e-3


@dataclass(frozen=True)
class Term:
    """`weight` times `item`, where item is a vector (dim,), an image, a sound or a text (see `modality`).

    space: for a vector, the spec of the space that made it (checked against the combination's space).
    """

    weight: float
    item: Any
    modality: str
    space: str | None = None

    def __post_init__(self):
        if not isinstance(self.modality, str) or self.modality not in MODALITIES:
            raise InputError(f"a term's modality must be one of {', '.join(MODALITIES)}; got {self.modality!r}.")
        object.__setattr__(self, "weight", checks.weight(self.weight))

    @property
    def label(self) -> str:
        """How the term reads in an expression: `0.5*"red"`, `scene.png`, `vector(384)`."""
        if self.modality == "text":
            name = f'"{self.item}"'
        elif isinstance(self.item, (str, os.PathLike)):
            name = Path(self.item).name
        elif self.modality == "vector":
            name = f"vector({np.shape(self.item)[-1]})"
        else:
            name = f"{self.modality}({type(self.item).__name__})"
        magnitude = abs(self.weight)
        return name if magnitude == 1 else f"{magnitude:g}*{name}"


def text(value: str, weight: float = 1.0) -> Term:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"a text term must have words; got {value!r}. Give the text, e.g. 'a red circle'.")
    return Term(weight, value, "text")


def vector(value, weight: float = 1.0, *, space: str | None = None) -> Term:
    """One vector (dim,) or (1, dim), checked and normalised in float64 now (unit_rows), so a bad one is named here."""
    rows = unit_rows(value, what="a vector term")
    if len(rows) != 1:
        raise InputError(f"a vector term is one vector (dim,); got shape {np.shape(value)}. Give each vector its own term.")
    return Term(weight, rows[0], "vector", space)


def file(path: str | os.PathLike, weight: float = 1.0) -> Term:
    """An image, audio or .npy vector file; the modality comes from the extension."""
    path = refuse_special(path)
    if path.suffix.lower() == ".npy":
        if not is_file(path):
            raise InputError(f"{str(path)!r} does not exist or is not a file. Check the path.")
        return Term(weight, load_vectors(path), "vector")
    modality, path = input_of(path)
    if modality not in ("image", "audio"):
        raise InputError(f"{str(path)!r} is a {modality} file; arithmetic takes images, sounds, .npy vectors and texts.")
    return Term(weight, path, modality)


# `W*operand`: W is whatever Python reads as a float (1, .5, 2., 1e-3, 1_000, nan, inf), checked by `checks.weight`.
_WEIGHTED = re.compile(r"^\s*([^\s*]+)\s*\*\s*(.+)$", re.S)
# What was meant as a weight but is not a float (`1/2*red`, `(0.5)*red`, `2^3*red`): digits and arithmetic, no words;
# or an integer in another base (`0x10*red`, `0b11*red`, `0o7*red`), which float() does not read.
_WEIGHT_ATTEMPT = re.compile(r"[\d.+\-/()eE_^]*\d[\d.+\-/()eE_^]*|[+\-]?0[xXoObB][0-9A-Fa-f_]+")
# A file name rather than words: no spaces, and a folder or an extension of letters (`one.pgn`, `out/a`).
_PATH_LIKE = re.compile(r"\S*[/\\]\S*|[^\s.]\S*\.[A-Za-z][A-Za-z0-9]{1,4}")
TEXT_PREFIX = "text:"  # `text:one.pgn`: a text however it looks


def parse_expression(tokens: Sequence[str]) -> list[Term]:
    """Terms from command-line tokens: `a.png + b.wav - red + 0.5*blue`.

    Operators are their own tokens (`+`, `-`) or glued to the operand (`-red`, `+blue`); an operand
    may carry a weight `W*operand`. An operand that names an existing file or ends in a known file
    extension is a file (an unknown extension of an existing file is an error); anything else is text.
    """
    terms: list[Term] = []
    sign, operator = 1.0, None
    for raw in tokens:
        token = raw.strip().replace("\u2212", "-")  # the minus sign (U+2212) that word processors write for "-"
        if token.startswith("*") or token.endswith("*"):
            raise InputError(f"{raw!r} has a `*` with nothing on one side. Write WEIGHT*TERM, e.g. 0.5*red.")
        if token in ("+", "-"):
            if operator is not None:
                raise InputError(f"two operators in a row near {raw!r}. Write `A + B - C`.")
            sign, operator = (-1.0 if token == "-" else 1.0), token
            continue
        if token[:1] in "+-" and len(token) > 1 and not exists(token):
            if operator is not None:
                raise InputError(f"two operators in a row near {raw!r}. Write `A + B - C`.")
            sign, operator, token = (-1.0 if token[0] == "-" else 1.0), token[0], token[1:].strip()
        if operator is None and terms:
            raise InputError(f"missing + or - before {raw!r}. Write `A + B`, and quote texts with spaces.")
        weight, operand = 1.0, token
        match = _WEIGHTED.match(token)
        if match and not exists(token) and _is_weight_attempt(match.group(1), match.group(2).strip()):
            # `2**3*red`, `2*3*red`: arithmetic in the weight, which is read as one number and nothing else.
            written, _, rest = token.rpartition("*")
            raise InputError(f"the weight {written.strip()!r} in {raw!r} is not a number. Write it as one, e.g. 0.5*{rest.strip()}.")
        if match and not exists(token) and _is_float(match.group(1)):
            weight, operand = checks.weight(float(match.group(1)), f"the weight in {raw!r}"), match.group(2).strip()
        elif "*" in token and not exists(token) and not token.startswith(TEXT_PREFIX):  # 0,5*dog, half*dog: a weight meant
            raise InputError(
                f"{raw!r} has a `*`, but not a number before it: write the weight first, as a number with a decimal point, "
                f"e.g. 0.5*dog (not 0,5*dog, half*dog or dog*0.5); for the text itself, write {TEXT_PREFIX}{token}."
            )
        if not operand:
            raise InputError(f"empty operand in {raw!r}. Give a file, a text or a vector.")
        terms.append(term_of(operand, sign * weight))
        sign, operator = 1.0, None
    if operator is not None:
        raise InputError("the expression ends with an operator. Add the missing term after it.")
    if not terms:
        raise InputError("the combination is empty. Give at least one term, e.g. `scene.png + rain.wav`.")
    return terms


def _is_weight_attempt(head: str, rest: str) -> bool:
    """Whether `head*rest` was meant as a weight that is not one float: `1/2*red`, `0x10*red`, or a number followed by
    more arithmetic (`2**3*red`, `2*3*red`: rest starts with `*` or is itself weighted)."""
    if not _is_float(head):
        return bool(_WEIGHT_ATTEMPT.fullmatch(head))
    inner = _WEIGHTED.match(rest)
    return rest.startswith("*") or bool(inner and (_is_float(inner.group(1)) or _WEIGHT_ATTEMPT.fullmatch(inner.group(1))))


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def term_of(operand: str, weight: float = 1.0) -> Term:
    """A command-line operand as a term: a file when it names one or ends in a known extension, else a text.

    `text:...` is always a text. An operand shaped like a file name that names no file (`one.pgn`: a typo) is an
    error, not the text "one.pgn".
    """
    if operand.startswith(TEXT_PREFIX):
        return text(operand[len(TEXT_PREFIX) :], weight)
    path = Path(operand)
    if exists(path) and not is_file(path):  # a FIFO, a device, a socket or a folder, whatever its extension
        refuse_special(path, "the term")
        raise InputError(
            f"the term {operand!r} is a folder, not a file: a term is one picture, sound or .npy vector, or a text. "
            f"Give a file in it; for the text itself, write {TEXT_PREFIX}{operand}."
        )
    if path.suffix.lower() == ".npy":
        return file(path, weight)
    if is_file(path):
        modality_of(path)  # an unknown extension of an existing file is an error, not a text
        return file(path, weight)
    try:
        modality_of(path)
    except InputError:
        if _PATH_LIKE.fullmatch(operand):
            raise InputError(
                f"{operand!r} looks like a file name, but no such file exists. Check the name; for the text itself, "
                f"write {TEXT_PREFIX}{operand}."
            ) from None
        return text(operand, weight)
    return file(path, weight)  # a known extension: a missing file is an error, not a text


def embed_terms(terms: Sequence[Term], space: Space) -> np.ndarray:
    """Each term's unit vector in `space`, (n, dim), in order (texts and files batched per modality)."""
    if not terms:
        raise InputError("the combination is empty. Give at least one term, e.g. `scene.png + rain.wav`.")
    rows: list[np.ndarray | None] = [None] * len(terms)
    for index, term in enumerate(terms):
        if term.modality != "vector":
            continue
        if term.space is not None and term.space != space.spec:
            raise SpaceMismatchError(
                f"term {index + 1} ({term.label}) was embedded in space {term.space!r}, but the combination is in "
                f"{space.spec!r}. Embed every term with the same space (pass the image, sound or text instead of the vector)."
            )
        width = np.shape(term.item)[-1] if np.ndim(term.item) else 0
        if np.ndim(term.item) not in (1, 2) or (np.ndim(term.item) == 2 and np.shape(term.item)[0] != 1):
            raise InputError(f"term {index + 1} ({term.label}) must be one vector (dim,); got shape {np.shape(term.item)}.")
        if width != space.dim:
            raise SpaceMismatchError(
                f"term {index + 1} is a {width}-d vector but space {space.spec!r} makes {space.dim}-d ones: it comes from "
                "another space. Embed every term with the same space."
            )
        rows[index] = unit_rows(term.item, space.dim, what=f"term {index + 1}")[0]
    for modality in ("text", "image", "audio"):
        picked = [index for index, term in enumerate(terms) if term.modality == modality]
        if picked:
            for index, row in zip(picked, space.embed(modality, [terms[index].item for index in picked]), strict=True):
                rows[index] = row
    filled = [row for row in rows if row is not None]
    assert len(filled) == len(rows), "every term's modality (MODALITIES) is embedded above"
    return np.stack(filled).astype(np.float32)


def combine_vectors(vectors: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """Unit (dim,) direction of the weighted sum of unit rows; an error when the terms cancel out.

    In float64, with the weights divided by the largest first (the direction does not change): weights
    such as 1e308 cannot overflow the sum, and tiny ones cannot vanish.
    """
    scaled = np.asarray([checks.weight(weight) for weight in weights], dtype=np.float64)
    scaled = scaled / np.abs(scaled).max()
    total = (scaled[:, None] * np.asarray(vectors, dtype=np.float64)).sum(axis=0)
    norm = float(np.linalg.norm(total))
    if norm < CANCELLED * float(np.abs(scaled).sum()):
        raise InputError(
            f"the terms cancel out (the weighted sum has length {norm:.2g}), e.g. `x - x`: the result has no direction. "
            "Change the weights or the terms so they do not sum to zero."
        )
    return (total / norm).astype(np.float32)


def combine(terms: Sequence[Term], space: Space) -> np.ndarray:
    """The combined target: normalise each term, weighted sum, re-normalise. Shape (dim,)."""
    return combine_vectors(embed_terms(terms, space), [term.weight for term in terms])


def expression(terms: Sequence[Term]) -> str:
    """`scene.png + rain.wav - "red"`: the terms as one readable line."""
    parts = []
    for index, term in enumerate(terms):
        operator = "-" if term.weight < 0 else "+"
        parts.append(term.label if index == 0 and operator == "+" else f"{operator} {term.label}")
    return " ".join(parts)
