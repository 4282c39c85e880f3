"""Predictions to score: one column of the Parquet file (or folder of shards) that `unembed run` writes.

Its columns: id (string), text, score, bootstrap_text, bootstrap_score, steps, seconds, llm_calls,
error (null when the row is fine). `text` is the loop's answer, `bootstrap_text` the bank's best.
A row whose `error` is set has no answer: `read_predictions` keeps it apart (`Predictions.failed`).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..index import normalise_caption
from ..registry import require


@dataclass
class Predictions:
    """The texts of one column of one predictions file, by id, and the rows that failed."""

    path: str
    column: str
    texts: dict[str, str]  # id -> caption, for rows that did not fail
    failed: dict[str, str] = field(default_factory=dict)  # id -> the row's error

    @property
    def ids(self) -> set[str]:
        return set(self.texts) | set(self.failed)


def read_predictions(path: str | os.PathLike, columns: list[str] | tuple[str, ...] = ("text",)) -> list[Predictions]:
    """One `Predictions` per column of the Parquet file or folder of Parquet shards at `path`."""
    dataset = require("pyarrow.dataset", package="pyarrow", needed_by="reading predictions (Parquet)")
    arrow = require("pyarrow", package="pyarrow", needed_by="reading predictions (Parquet)")
    if not Path(path).exists():
        raise InputError(f"predictions {str(path)!r} do not exist. Give the Parquet file or folder `unembed run --out` wrote.")
    try:
        table = dataset.dataset(str(path), format="parquet")
        names = table.schema.names
    except (arrow.ArrowInvalid, OSError) as error:
        raise InputError(
            f"{str(path)!r} is not a Parquet file or a folder of Parquet files ({error}). Give what `unembed run --out` wrote."
        ) from error
    missing = [name for name in ("id", *columns) if name not in names]
    if missing:
        raise InputError(
            f"predictions {str(path)!r} have no column {', '.join(map(repr, missing))} (columns: {names}). "
            "Give a file `unembed run` wrote (id, text, bootstrap_text, ..., error), or --column with one of its columns."
        )
    wanted = ["id", *columns] + (["error"] if "error" in names else [])
    try:  # a shard is read only now: one damaged file in a folder of shards surfaces here
        rows = table.to_table(columns=list(dict.fromkeys(wanted))).to_pydict()
    except (arrow.ArrowInvalid, OSError) as error:
        raise InputError(
            f"predictions {str(path)!r} could not be read ({error}). Remove the damaged file; `unembed run` with the same "
            "command redoes the targets it held."
        ) from error
    unnamed = sum(key is None for key in rows["id"])
    if unnamed:
        raise InputError(f"predictions {str(path)!r}: {unnamed} row(s) have no id. Every row needs one.")
    ids = [str(key) for key in rows["id"]]
    duplicates = sorted(key for key, count in Counter(ids).items() if count > 1)
    if duplicates:
        raise InputError(
            f"predictions {str(path)!r}: {len(duplicates)} id(s) appear more than once (e.g. {duplicates[:3]}). "
            "Each id needs one row; re-run `unembed run`, which never writes an id twice, or remove the copies."
        )
    errors = rows.get("error", [None] * len(ids))
    result = []
    for column in columns:
        texts: dict[str, str] = {}
        failed: dict[str, str] = {}
        empty: list[str] = []
        for key, text, failure in zip(ids, rows[column], errors, strict=True):
            if failure is not None:
                failed[key] = str(failure)
            elif text is None:
                empty.append(key)
            else:
                texts[key] = normalise_caption(str(text))
        if empty:
            raise InputError(
                f"predictions {str(path)!r}: {len(empty)} row(s) have no {column} and no error (e.g. {empty[:3]}). "
                "A row is either answered or failed; re-run `unembed run` to redo them."
            )
        result.append(Predictions(str(path), column, texts, failed))
    return result
