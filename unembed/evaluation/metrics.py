"""COCO caption metrics through pycocoevalcap: PTB tokenisation, BLEU-1..4, METEOR, ROUGE-L, CIDEr(-D), SPICE.

These are the field's reference implementations, so scores compare with published tables. The
tokeniser, METEOR and SPICE are Java programs bundled in the pycocoevalcap wheel: a Java runtime
must be on PATH. SPICE also needs Stanford CoreNLP 3.6.0, which pycocoevalcap downloads on first
use; offline it cannot, so SPICE is skipped with one line saying what is missing (`spice_missing`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from ..errors import EvaluationError, InputError, MissingDependencyError
from ..registry import require

RunKey = TypeVar("RunKey", bound=Hashable)

# What each metric adds to a report, in table order.
METRICS = {
    "bleu": ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"),
    "meteor": ("METEOR",),
    "rouge": ("ROUGE-L",),
    "cider": ("CIDEr",),
    "spice": ("SPICE",),
}
CORENLP = "stanford-corenlp-3.6.0"  # what SPICE's parser needs beside its jar (pycocoevalcap's get_stanford_models)


def check_metrics(metrics: Sequence[str] | None) -> list[str]:
    """The metric names asked for, checked, in table order; None: all of them."""
    if metrics is None:
        return list(METRICS)
    if isinstance(metrics, str):
        metrics = metrics.split(",")
    names = [name.strip().lower() for name in metrics if name.strip()]
    unknown = [name for name in names if name not in METRICS]
    if unknown or not names:
        raise InputError(f"unknown caption metric(s) {unknown or metrics}: choose from {', '.join(METRICS)}.")
    return [name for name in METRICS if name in names]


def require_java() -> str:
    """The `java` on PATH; pycocoevalcap's tokeniser and METEOR are Java programs."""
    java = shutil.which("java")
    if java is None:
        raise MissingDependencyError(
            "caption metrics need a Java runtime (pycocoevalcap's PTB tokeniser, METEOR and SPICE are Java programs) "
            "and `java` is not on PATH. Install one, e.g. `apt-get install default-jre-headless`."
        )
    return java


def spice_missing() -> str | None:
    """None when SPICE can run; else one line saying what is missing and how to get it."""
    spice = require("pycocoevalcap.spice.spice", extra="eval", needed_by="SPICE")
    lib = Path(spice.__file__).parent / "lib"
    missing = [name for name in (f"{CORENLP}.jar", f"{CORENLP}-models.jar") if not (lib / name).is_file()]
    if not missing:
        return None
    return (
        f"SPICE skipped: it needs Stanford CoreNLP 3.6.0 ({' and '.join(missing)} in {lib}), which pycocoevalcap downloads "
        "from nlp.stanford.edu at first use and cannot offline. Get them once online with `python -c "
        "'from pycocoevalcap.spice.get_stanford_models import get_stanford_models; get_stanford_models()'` "
        "(or copy both jars from stanford-corenlp-full-2015-12-09.zip into that folder)."
    )


class CaptionScorer:
    """pycocoevalcap's scorers, started once for several runs (METEOR loads its paraphrase table once).

    `tokenize({key: [caption, ...]})` runs the PTB tokeniser over all captions in one Java call;
    `score(references, predictions)` takes tokenised `{id: [captions]}` and `{id: [caption]}` with the
    same ids and returns `{metric name: corpus score}`. `notes` says what was skipped and why.
    """

    def __init__(self, metrics: Sequence[str] | None = None):
        self.metrics = check_metrics(metrics)
        require_java()
        require("pycocoevalcap", extra="eval", needed_by="caption metrics")
        self.notes: list[str] = []
        if "spice" in self.metrics and (line := spice_missing()):
            self.notes.append(line)
            self.metrics.remove("spice")
        self._scorers = {name: self._load(name) for name in self.metrics}

    @staticmethod
    def _load(name: str):
        if name == "bleu":
            return require("pycocoevalcap.bleu.bleu", extra="eval", needed_by="BLEU").Bleu(4)
        if name == "meteor":
            return require("pycocoevalcap.meteor.meteor", extra="eval", needed_by="METEOR").Meteor()
        if name == "rouge":
            return require("pycocoevalcap.rouge.rouge", extra="eval", needed_by="ROUGE-L").Rouge()
        if name == "cider":
            return require("pycocoevalcap.cider.cider", extra="eval", needed_by="CIDEr").Cider()
        return require("pycocoevalcap.spice.spice", extra="eval", needed_by="SPICE").Spice()

    @property
    def score_names(self) -> list[str]:
        return [score for name in self.metrics for score in METRICS[name]]

    def tokenize(self, captions: Mapping[Hashable, Sequence[str]]) -> dict[Hashable, list[str]]:
        module = require("pycocoevalcap.tokenizer.ptbtokenizer", extra="eval", needed_by="caption metrics")
        try:
            tokenized = module.PTBTokenizer().tokenize({key: [{"caption": text} for text in texts] for key, texts in captions.items()})
        except OSError as error:  # it writes its input to a temporary file beside its jar
            raise EvaluationError(
                f"pycocoevalcap's PTB tokeniser could not write its temporary file in {Path(module.__file__).parent} ({error}). "
                "Install pycocoevalcap where you can write, e.g. in a virtual environment."
            ) from error
        # The tokeniser pairs its output lines with the inputs; a missing key means a line went astray.
        lost = [key for key, texts in captions.items() if len(tokenized.get(key, ())) != len(texts)]
        if lost:
            raise InputError(
                f"the PTB tokeniser lost the captions of {len(lost)} id(s) (e.g. {lost[:3]}): "
                "check them for characters Java reads as line breaks."
            )
        return tokenized

    def score_runs(
        self, runs: Mapping[RunKey, Mapping[str, str]], references: Mapping[str, Sequence[str]]
    ) -> dict[RunKey, dict[str, float]]:
        """`{run: {metric name: corpus score}}` of several runs (`{run: {id: text}}`) against `references`
        (`{id: [reference, ...]}`), tokenised in two Java calls: one for the references, one for every run."""
        ids = sorted({key for texts in runs.values() for key in texts})
        truth = self.tokenize({key: references[key] for key in ids})
        tokenized = self.tokenize({(run, key): [text] for run, texts in runs.items() for key, text in texts.items()})
        return {
            run: self.score({key: truth[key] for key in sorted(texts)}, {key: tokenized[(run, key)] for key in sorted(texts)})
            for run, texts in runs.items()
        }

    def score(self, references: Mapping[str, list[str]], predictions: Mapping[str, list[str]]) -> dict[str, float]:
        scores: dict[str, float] = {}
        for name, scorer in self._scorers.items():
            if name == "bleu":
                values, _ = scorer.compute_score(references, predictions, verbose=0)
            elif name == "spice":
                try:
                    values, _ = scorer.compute_score(references, predictions)
                except (subprocess.CalledProcessError, OSError, ValueError) as error:
                    self.notes.append(f"SPICE failed and is left out ({error}); the other metrics stand.")
                    continue
            else:
                values, _ = scorer.compute_score(references, predictions)
            for score_name, value in zip(METRICS[name], values if name == "bleu" else [values], strict=True):
                scores[score_name] = float(value)
        return scores

    def close(self) -> None:
        """Stop METEOR's Java process: dropping the last reference runs `Meteor.__del__`, which kills it."""
        self._scorers.pop("meteor", None)


def caption_scores(
    runs: Mapping[str, Sequence[str]], references: Sequence[Sequence[str]], metrics: Sequence[str] | None = None
) -> dict[str, dict[str, float]]:
    """`{run: {metric name: corpus score}}` for runs of texts given in the order of `references` (a list of
    reference texts per item): `caption_scores({"loop": texts, "bank": bank_texts}, [[truth] for truth in truths], ["bleu"])`."""
    keyed = {str(index): list(texts) for index, texts in enumerate(references)}
    for name, texts in runs.items():
        if len(texts) != len(references):
            raise InputError(f"run {name!r} has {len(texts)} texts for {len(references)} references: give one text per item.")
    scorer = CaptionScorer(metrics)
    try:
        return scorer.score_runs({name: {str(index): text for index, text in enumerate(texts)} for name, texts in runs.items()}, keyed)
    finally:
        scorer.close()
