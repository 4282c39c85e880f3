"""The evaluation room: caption metrics against references, and eval sets with known answers.

- `evaluate(predictions, references, columns=, metrics=)` -> `EvaluationReport`: runs side by side,
  scored with pycocoevalcap (BLEU-1..4, METEOR, ROUGE-L, CIDEr; SPICE when its parser's models are
  present); `caption_scores(runs, references)` the same for texts in memory; `read_references` (COCO
  .json, Clotho .csv, .jsonl), `read_predictions` (`unembed run`'s Parquet).
- `make_eval_set(spec, n=, seed=, space=)` -> `EvalSet` (targets, references, exclude list), written
  with `EvalSet.write(folder)` and read with `load_eval_set(folder)`; `register_eval_set` adds kinds.
"""

from ..errors import EvaluationError
from .metrics import METRICS, CaptionScorer, caption_scores, check_metrics, require_java, spice_missing
from .predictions import Predictions, read_predictions
from .references import read_references, reference_format
from .report import EvaluationReport, RunScores, evaluate
from .sets import (
    EVAL_SETS,
    FILES,
    EvalSet,
    available_eval_sets,
    held_out_targets,
    load_eval_set,
    make_eval_set,
    register_eval_set,
    targets_table,
)

__all__ = [
    "evaluate",
    "EvaluationReport",
    "RunScores",
    "EvaluationError",
    "read_references",
    "reference_format",
    "read_predictions",
    "Predictions",
    "CaptionScorer",
    "caption_scores",
    "METRICS",
    "check_metrics",
    "require_java",
    "spice_missing",
    "EvalSet",
    "make_eval_set",
    "load_eval_set",
    "register_eval_set",
    "available_eval_sets",
    "EVAL_SETS",
    "FILES",
    "held_out_targets",
    "targets_table",
]
