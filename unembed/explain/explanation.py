"""Explanations: what a direction, a cluster, a probe or a sparse-autoencoder feature means, in words.

Each is the MILS loop run on an objective (unembed.objectives), set beside what the caption bank alone
says: the bank's best texts ranked by the same objective, and the lift of the loop's best over them.
All objectives of one call run through ONE `invert_many` batch (one generator round and one encoder
batch per step for all of them).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import atomic, checks
from ..arithmetic import embed_terms, term_of
from ..errors import InputError
from ..index import Bank
from ..inverter import InversionResult, cache_for, invert_many
from ..objectives import Direction, Objective, Probe, Set, SparseAutoencoder
from ..paths import refuse_special
from ..registry import require
from ..spaces import Space, load_space

log = logging.getLogger(__name__)

# Bank texts whose mean centres a direction: enough for a steady mean, few enough to embed in seconds.
BASELINE_TEXTS = 2000
TOP = 5  # texts listed per explanation, from the loop and from the bank


@dataclass
class Explanation:
    """What the loop and the bank say an objective means. Scores are the objective's (higher is better)."""

    name: str
    objective: str  # the objective's spec
    texts: list[tuple[float, str]]  # the loop's best, best first
    bank_texts: list[tuple[float, str]]  # the bank's best by the objective, best first
    seconds: float  # this explanation's share of the batch's time
    result: InversionResult = field(repr=False)

    @property
    def text(self) -> str:
        return self.texts[0][1]

    @property
    def score(self) -> float:
        return self.texts[0][0]

    @property
    def bank_text(self) -> str:
        return self.bank_texts[0][1]

    @property
    def bank_score(self) -> float:
        return self.bank_texts[0][0]

    @property
    def lift(self) -> float:
        """How much the loop's best beats the bank's best on the objective (0: the loop found nothing better)."""
        return self.score - self.bank_score

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "objective": self.objective,
            "text": self.text,
            "score": self.score,
            "bank_text": self.bank_text,
            "bank_score": self.bank_score,
            "lift": self.lift,
            "seconds": self.seconds,
            "texts": [{"score": score, "text": text} for score, text in self.texts],
            "bank_texts": [{"score": score, "text": text} for score, text in self.bank_texts],
            "trajectory": self.result.trajectory(),
        }


def explain(
    objectives: Objective | Sequence[Objective],
    *,
    names: Sequence[str] | None = None,
    space: str | Space = "minilm",
    bank: Bank | str | None = None,
    modality: str = "image",
    top: int = TOP,
    **options,
) -> list[Explanation]:
    """Explain each objective: one `invert_many` batch for all. options: invert_many's (generator, steps, ...).

    names: one label per objective (default: its spec). modality picks the bank (when none is given),
    MILS's prompt and defaults.
    """
    objectives = [objectives] if isinstance(objectives, Objective) else list(objectives)
    names = [each.spec for each in objectives] if names is None else list(names)
    if len(names) != len(objectives):
        raise InputError(f"{len(names)} names for {len(objectives)} objectives. Give one name per objective.")
    top = checks.count(top, "top (texts listed per explanation)")
    space = load_space(space)
    started = time.perf_counter()
    results = invert_many(objective=objectives, space=space, bank=bank, modality=modality, **options)
    seconds = (time.perf_counter() - started) / len(objectives)
    explanations = []
    for name, result in zip(names, results, strict=True):
        assert result.config is not None  # the loop records its settings
        explanations.append(
            Explanation(
                name=name,
                objective=result.config.objective,
                texts=result.top[:top],
                bank_texts=result.history[0].candidates[:top],
                seconds=seconds,
                result=result,
            )
        )
    return explanations


def read_items(items: Sequence[str], space: Space) -> np.ndarray:
    """Unit rows (n, dim) of command-line items: image or audio files, .npy vectors, or texts."""
    return embed_terms([term_of(item, 1.0) for item in items], space) if items else np.zeros((0, space.dim), np.float32)


def bank_baseline(bank: Bank, space: Space, *, count: int = BASELINE_TEXTS, seed: int = 0) -> np.ndarray:
    """Embeddings of up to `count` of the bank's texts (a seeded sample): what a centred direction is centred on."""
    texts = bank.texts
    if len(texts) > count:
        texts = [texts[i] for i in sorted(np.random.default_rng(seed).choice(len(texts), count, replace=False))]
    return cache_for(space).embed(texts)


def group_objective(positive, negative=None, *, baseline=None) -> Objective:
    """What separates group `positive` from group `negative` (vectors (n, dim)), or what `positive` shares.

    Both groups: the direction mean(positive) - mean(negative), centred on `baseline` (the bank's texts)
    when given, so a generic text cannot win by what every text shares. Positive only: the set (mean cosine).
    """
    positive = np.zeros((0, 0)) if positive is None else np.asarray(positive, dtype=np.float64)
    negative = np.zeros((0, 0)) if negative is None else np.asarray(negative, dtype=np.float64)
    if positive.size == 0 and negative.size == 0:
        raise InputError("both groups are empty. Give --positive ITEM... (what to explain) and, for a direction, --negative ITEM....")
    if positive.size == 0:
        raise InputError("the positive group is empty. Give --positive ITEM...: a direction points from --negative to --positive.")
    if negative.size == 0:
        return Set(positive, mode="mean")
    if negative.shape[-1] != positive.shape[-1]:
        raise InputError(
            f"the positive items are {positive.shape[-1]}-d but the negative ones {negative.shape[-1]}-d. Embed both groups in one space."
        )
    direction = positive.mean(axis=0) - negative.mean(axis=0)
    if np.linalg.norm(direction) < 1e-6:
        raise InputError("the two groups have the same mean, so there is no direction between them. Give groups that differ.")
    return Direction(direction, baseline=baseline)


def probe_objectives(path, *, names: Sequence[str] | None = None) -> tuple[list[str], list[Objective]]:
    """(names, one Probe per class) from a safetensors file: `weight` (dim,) or (classes, dim), `bias` () or (classes,).

    torch's nn.Linear saves these names. Class names come from `names`, else the file's metadata
    `names` (comma-separated), else `class N`.
    """
    tensors, metadata = _read_safetensors(Path(path), "probe", "weight (classes, dim) and bias (classes,)")
    if "weight" not in tensors:
        raise InputError(
            f"probe file {path} has no tensor 'weight' (it holds {', '.join(sorted(tensors)) or 'nothing'}). "
            "Save weight (classes, dim) and bias (classes,)."
        )
    weights = np.atleast_2d(tensors["weight"].astype(np.float64))
    bias = tensors["bias"].astype(np.float64).reshape(-1) if "bias" in tensors else np.zeros(len(weights))
    if weights.ndim != 2 or len(bias) != len(weights):
        raise InputError(
            f"probe file {path}: weight has shape {tensors['weight'].shape} but bias {tensors.get('bias', bias).shape}. "
            "Save weight (classes, dim) and bias (classes,)."
        )
    if not np.isfinite(bias).all():
        raise InputError(f"probe file {path}: bias holds NaN or inf. Check the probe that was trained.")
    labels = _names(names, metadata, len(weights), "class", path)
    return labels, [Probe(row, value) for row, value in zip(weights, bias, strict=True)]


def sae_objectives(path, *, features: str | Sequence[int] | None = None, **options) -> tuple[list[str], list[Objective]]:
    """(names, one objective per feature) of the SAE in `path` (all features by default); options: SparseAutoencoder's.

    `features` may be the command line's text (`1,5,9`, `0-15`): it is read against the SAE's size.
    """
    sae = SparseAutoencoder(path, **options)
    if isinstance(features, str):
        features = parse_features(features, sae.d_sae)
    numbers = range(sae.d_sae) if features is None else features
    if not len(numbers):
        raise InputError("no SAE features were asked for. Give feature numbers, e.g. --features 1,5,9, or none for all.")
    if features is None:
        # Every live feature: one that reads something (not an all-zero encoder row) and can fire on some embedding
        # (its threshold below the most its pre-activation reaches on a unit vector). A dead one has nothing to explain:
        # its every score would be its distance to firing, the same ranking of texts for all of them.
        live = sae.can_fire() & sae.encoder.any(axis=1)
        if not live.any():
            highest, level = sae.highest_pre_activations(), sae.threshold
            nearest = int(np.argmax(highest - level))  # the feature closest to firing
            raise InputError(
                f"no feature of the SAE in {path} can fire: on any unit embedding, every feature's pre-activation stays "
                f"at or below its threshold (the nearest, feature {nearest}, reaches at most {highest[nearest]:.3g}; its "
                f"threshold is {level[nearest]:.3g}), "
                f"so none is live. Check the SAE's {'threshold' if sae.activation == 'jumprelu' else 'W_enc and b_enc'} "
                "(--activation relu ignores a threshold), or name features with --features to explain them anyway."
            )
        numbers = [n for n in numbers if live[n]]
        if len(numbers) < sae.d_sae:
            dead = sae.d_sae - len(numbers)
            log.info("%d of the SAE's %d features are dead (they read nothing or cannot fire) and are left out.", dead, sae.d_sae)
    return [f"feature {n}" for n in numbers], [sae.feature(n) for n in numbers]


_FEATURES = re.compile(r"([0-9]+)(?:-([0-9]+))?")


def parse_features(text: str, count: int) -> list[int]:
    """`1,5,9` or `0-15` (or both: `0-3,9`) as feature numbers of an SAE with `count` features.

    Every number is checked against `count` before a range is expanded, so `0-999999999` is refused, not built.
    """
    spans: list[tuple[int, int]] = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        match = _FEATURES.fullmatch(part)
        if match is None:
            raise InputError(f"--features: {part!r} is not a feature number or range. Write e.g. 1,5,9 or 0-15.")
        low, high = match.group(1), match.group(2) or match.group(1)
        # Lengths first: Python refuses int() of thousands of digits.
        if any(len(number.lstrip("0")) > len(str(count)) or int(number) >= count for number in (low, high)):
            raise InputError(f"--features: {part!r} goes past this SAE's {count} features (0-{count - 1}). Pick numbers below {count}.")
        if int(low) > int(high):
            raise InputError(f"--features: {part!r} runs backwards. Write the smaller number first, e.g. {high}-{low}.")
        spans.append((int(low), int(high)))
    if not spans:
        raise InputError("--features is empty. Write e.g. 1,5,9 or 0-15, or leave it out for every feature.")
    return list(dict.fromkeys(number for low, high in spans for number in range(low, high + 1)))  # each once, in order


def table(explanations: Sequence[Explanation]) -> str:
    """One row per explanation: name, the loop's best score, the bank's best, the lift, and the loop's best text."""
    width = max([len("name"), *(len(each.name) for each in explanations)])
    lines = [f"{'name':<{width}}  {'loop':>7}  {'bank':>7}  {'lift':>7}  text"]
    lines += [f"{each.name:<{width}}  {each.score:7.3f}  {each.bank_score:7.3f}  {each.lift:+7.3f}  {each.text}" for each in explanations]
    return "\n".join(lines)


REPORT_FORMATS = (".json", ".parquet")  # what write_report writes, chosen by the path's suffix


def check_report_path(path, option: str = "the report's path") -> Path:
    """`path`, if its suffix names a format `write_report` writes: JSON written into `x.csv` would be read as CSV."""
    suffix = Path(path).suffix.lower()
    if suffix not in REPORT_FORMATS:
        raise InputError(
            f"{option} {path}: a report is written as JSON (.json) or Parquet (.parquet), chosen by the name's "
            f"extension; {suffix or 'no extension'!s} is neither. Give a path ending in .json or .parquet."
        )
    return Path(path)


def write_report(explanations: Sequence[Explanation], path, **context) -> Path:
    """The explanations as JSON (`context` beside them: space, settings...), or one row each as Parquet (*.parquet)."""
    rows = [each.to_dict() for each in explanations]
    if check_report_path(path).suffix.lower() != ".parquet":
        return atomic.write_json(path, {**context, "explanations": rows})
    pyarrow = require("pyarrow", package="pyarrow", needed_by="Parquet reports")
    return atomic.save_parquet(path, pyarrow.Table.from_pylist(rows), metadata={key: str(value) for key, value in context.items()})


def _read_safetensors(path: Path, what: str, holds: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    safetensors = require("safetensors", extra="sae", needed_by=f"reading a {what} file")
    numpy_io = require("safetensors.numpy", extra="sae", needed_by=f"reading a {what} file")
    refuse_special(path, f"{what} file")
    if not path.is_file():
        raise InputError(f"no {what} file at {path}. Give a .safetensors file holding {holds}.")
    try:
        with safetensors.safe_open(str(path), framework="numpy") as file:
            metadata = file.metadata() or {}
        return numpy_io.load_file(str(path)), metadata
    except Exception as error:  # safetensors raises its own SafetensorError for a corrupt header
        raise InputError(f"could not read {what} file {path} as safetensors ({error}). Give a .safetensors file.") from error


def _names(names, metadata: dict, count: int, prefix: str, path) -> list[str]:
    if names is None and "names" in metadata:
        names = metadata["names"].split(",")
    if names is None:
        return [f"{prefix} {n}" for n in range(count)]
    if len(names) != count:
        raise InputError(f"{path}: {len(names)} names for {count} {prefix}es. Give one name per {prefix}.")
    return list(names)
