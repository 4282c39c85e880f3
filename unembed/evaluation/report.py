"""`evaluate`: several runs (predictions files x columns) scored against one references file, side by side.

Every input is read and checked before any scoring starts: the references parse, every prediction
file has an id column and the columns asked for, every prediction id has references, all runs cover
the same ids (so their scores compare), and no row failed. Failed rows (`error` set) stop the
evaluation by default: a run with holes is not finished, and `unembed run` retries them when it is
run again. `allow_failed=True` scores the rows that succeeded and the report counts the others.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from .. import atomic
from ..errors import InputError
from .metrics import CaptionScorer
from .predictions import Predictions, read_predictions
from .references import read_references, reference_format


@dataclass
class RunScores:
    predictions: str  # the file or folder
    column: str  # text (the loop), bootstrap_text (the bank alone), ...
    n: int  # rows scored
    failed: int  # rows whose error was set, not scored (allow_failed only)
    scores: dict[str, float]  # metric -> corpus score, pycocoevalcap's scale (BLEU 0-1, CIDEr 0-10)


@dataclass
class EvaluationReport:
    references: str
    reference_format: str
    reference_ids: int
    metrics: list[str]
    runs: list[RunScores]
    notes: list[str] = field(default_factory=list)  # what was skipped (SPICE offline, failed rows) and why

    def markdown(self) -> str:
        """The runs side by side, scores x100 as papers print them (CIDEr 1.05 -> 105.0)."""
        header = ["predictions", "column", "n", *self.metrics]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for run in self.runs:
            cells = [run.predictions, run.column, str(run.n)] + [f"{100 * run.scores[name]:.1f}" for name in self.metrics]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "scale": "pycocoevalcap's: BLEU, METEOR, ROUGE-L and SPICE in 0-1, CIDEr-D in 0-10 (the table prints x100)",
            "pycocoevalcap": metadata.version("pycocoevalcap"),
        }

    def save(self, path: str | os.PathLike) -> Path:
        return atomic.write_json(path, self.to_dict())


def evaluate(
    predictions: str | os.PathLike | Sequence[str | os.PathLike],
    references: str | os.PathLike,
    *,
    columns: Sequence[str] = ("text",),
    metrics: Sequence[str] | None = None,
    allow_failed: bool = False,
) -> EvaluationReport:
    """Score each column of each predictions file against `references`; one `RunScores` per pair.

    predictions: Parquet files or folders of shards written by `unembed run`; references: a COCO
    `.json`, Clotho `.csv` or `.jsonl` file (`read_references`); columns: the prediction columns to
    score, e.g. ("text", "bootstrap_text") for the loop against the bank alone; metrics: some of
    bleu, meteor, rouge, cider, spice (default all; SPICE is skipped with a note when its parser's
    models are missing).
    """
    if isinstance(predictions, (str, os.PathLike)):
        predictions = [predictions]
    if isinstance(columns, str):
        columns = columns.split(",")
    columns = [column.strip() for column in columns if column.strip()]
    if not predictions or not columns:
        raise InputError("give at least one predictions file and one column to score (e.g. text).")
    kind = reference_format(references)
    truth = read_references(references)
    runs = [run for path in predictions for run in read_predictions(path, list(dict.fromkeys(columns)))]
    notes = _check(runs, truth, references, allow_failed)
    scorer = CaptionScorer(metrics)
    try:
        scores = scorer.score_runs({index: run.texts for index, run in enumerate(runs)}, truth)
    finally:
        scorer.close()
    results = [RunScores(run.path, run.column, len(run.texts), len(run.failed), scores[index]) for index, run in enumerate(runs)]
    return EvaluationReport(str(references), kind, len(truth), scorer.score_names, results, notes + scorer.notes)


def _check(runs: list[Predictions], truth: dict[str, list[str]], references, allow_failed: bool) -> list[str]:
    """Stop on ids without references, runs over different ids, and (unless allowed) failed rows."""
    notes = []
    for run in runs:
        if not run.texts:  # scores of nothing would print as 0.0, which reads as a result
            raise InputError(
                f"{run.path!r} holds no answered rows to score ({len(run.failed)} failed, of {len(run.ids)}). "
                "Run `unembed run` to the end (the same command resumes and retries failed rows), then evaluate."
            )
        unknown = sorted(run.ids - truth.keys())
        if unknown:
            raise InputError(
                f"{len(unknown)} of {len(run.ids)} ids of {run.path!r} have no references in {str(references)!r} "
                f"(e.g. {unknown[:3]}; the references' ids look like {sorted(truth)[:3]}). Give the references of the "
                "same targets: `unembed eval-set` writes references.jsonl beside the targets.parquet it inverts."
            )
    first = runs[0]
    for run in runs[1:]:
        if run.ids != first.ids:
            only_first, only_this = sorted(first.ids - run.ids), sorted(run.ids - first.ids)
            raise InputError(
                f"{first.path!r} has {len(first.ids)} ids and {run.path!r} {len(run.ids)}: {len(only_first)} only in the first "
                f"(e.g. {only_first[:3]}), {len(only_this)} only in the second (e.g. {only_this[:3]}), "
                "so their scores would not compare. Evaluate runs over the same targets (finish the shorter run first)."
            )
    for run in runs:
        if run.failed:
            key, error = next(iter(sorted(run.failed.items())))
            if not allow_failed:
                raise InputError(
                    f"{len(run.failed)} of {len(run.ids)} rows of {run.path!r} failed (their error is set; e.g. id {key!r}: "
                    f"{error[:120]}). Run the same `unembed run` command again (it retries failed rows), or pass "
                    "--allow-failed (allow_failed=True) to score only the rows that succeeded."
                )
            notes.append(
                f"{run.path} [{run.column}]: {len(run.failed)} of {len(run.ids)} rows failed and are not scored "
                f"(e.g. id {key!r}: {error[:120]})."
            )
    if len(first.ids) < len(truth):
        notes.append(f"scored {len(first.ids)} of the {len(truth)} ids in {references} (the ids the predictions hold).")
    return notes
