"""An inversion's settings, resolved once: MILS's per-modality defaults filled in, then frozen.

The result of every inversion records the configuration it ran with (`result.config`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .. import checks
from ..errors import InputError

# MILS's settings: image captioning 10 steps, 50 requested, keep 50, "up to 10 words";
# audio captioning 19 steps, 50 requested, keep 10, "under 20 words".
MILS_DEFAULTS = {
    "image": dict(steps=10, requested=50, keep=50, max_words=10),
    "audio": dict(steps=19, requested=50, keep=10, max_words=20),
    "text": dict(steps=10, requested=50, keep=50, max_words=20),
}
BOOTSTRAPS = ("index", "encode")


@dataclass(frozen=True)
class InversionConfig:
    """space/generator/fallback/objective: specs of the components (objective: what the loop maximised).
    modality: the prompt and MILS's defaults.

    steps, requested (new texts asked per step), keep (candidates kept between steps), shown
    (candidates listed in the prompt), max_words (the prompt's length cap), patience (stop a target
    after this many steps without a better best text; None: run every step), seed, bootstrap
    ("index": search the bank's index; "encode": re-encode every bank text, MILS's reference),
    neighbours (bank texts beyond the kept ones handed to model-free proposers), fluency_gate and
    fluency_margin (see `invert_many`), min_gain (the answer stays the bank's best text unless the
    loop's best beats it by at least this, in the objective's units), record_refusals (each step records
    how many candidate edits each of the edit generator's rules refused: `StepRecord.refusals`; off, nothing
    is counted).
    """

    space: str
    generator: str
    modality: str
    steps: int
    requested: int
    keep: int
    shown: int
    max_words: int
    patience: int | None = 3
    seed: int = 0
    bootstrap: str = "index"
    neighbours: int = 20
    fallback: str | None = None
    fluency_gate: bool = False
    fluency_margin: float | None = None
    # A gain the space cannot resolve is a tie, and a tie goes to the text a person wrote: MiniBind
    # scores "a red star on the right and a purple square on the left" 1e-4 above the true caption with
    # left and right the other way round, while the loop's right changes gain 1e-3 or more (README, closed world).
    min_gain: float = 5e-4
    objective: str = "cosine"
    record_refusals: bool = False

    def __post_init__(self):
        # Stored back as ints: a count of 2.0 is 2, and True is not a count (checks.count).
        counts = {"steps": 0, "neighbours": 0, "requested": 1, "keep": 1, "shown": 1, "max_words": 1}
        for name, minimum in counts.items():
            object.__setattr__(self, name, checks.count(getattr(self, name), name, minimum=minimum, maximum=checks.COUNT_LIMIT))
        object.__setattr__(self, "seed", checks.seed(self.seed))
        if self.patience is not None:
            object.__setattr__(self, "patience", checks.count(self.patience, "patience (None: run every step)"))
        if self.fluency_margin is not None:
            object.__setattr__(self, "fluency_margin", checks.number(self.fluency_margin, "fluency_margin"))
        object.__setattr__(self, "min_gain", checks.number(self.min_gain, "min_gain"))
        if self.min_gain < 0:
            raise InputError(
                f"min_gain must be at least 0 (0: the loop's best text is the answer however small its gain); got {self.min_gain}."
            )
        if not isinstance(self.record_refusals, bool):
            raise InputError(f"record_refusals is True or False; got {self.record_refusals!r}.")
        if self.bootstrap not in BOOTSTRAPS:
            raise InputError(f"bootstrap must be one of {', '.join(BOOTSTRAPS)}; got {self.bootstrap!r}.")

    @classmethod
    def resolve(
        cls,
        *,
        space: str,
        generator: str,
        preferred_shown: int | None,
        modality: str = "image",
        steps: int | None = None,
        requested: int | None = None,
        keep: int | None = None,
        shown: int | None = None,
        **settings,
    ) -> InversionConfig:
        """Settings left None take MILS's defaults for `modality`; `shown` defaults to the generator's preference."""
        if not isinstance(modality, str) or modality not in MILS_DEFAULTS:
            raise InputError(f"no prompt for modality {modality!r}; choose one of {', '.join(MILS_DEFAULTS)}.")
        unknown = set(settings) - {field.name for field in fields(cls)}
        if unknown:
            raise InputError(f"unknown inversion setting(s) {', '.join(sorted(unknown))}. Known: {', '.join(f.name for f in fields(cls))}.")
        defaults = MILS_DEFAULTS[modality]
        # `is None`, not `or`: a 0 the caller gave is checked (and refused), not replaced by a default.
        keep = defaults["keep"] if keep is None else keep
        if shown is None:
            shown = min(checks.count(keep, "keep"), preferred_shown or keep)
        return cls(
            space=space,
            generator=generator,
            modality=modality,
            steps=defaults["steps"] if steps is None else steps,
            requested=defaults["requested"] if requested is None else requested,
            keep=keep,
            shown=shown,
            **{"max_words": defaults["max_words"], **settings},
        )

    @classmethod
    def from_dict(cls, data: dict) -> InversionConfig:
        """A saved config; one saved before objectives existed names a `scorer` (render-and-score) or none (cosine)."""
        data = dict(data)
        scorer = data.pop("scorer", None)
        data.setdefault("objective", scorer or "cosine")
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)
