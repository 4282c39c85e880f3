"""An inversion's settings, resolved once: MILS's per-modality defaults filled in, then frozen.

The result of every inversion records the configuration it ran with (`result.config`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

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
    """space/generator/fallback/scorer: specs of the components. modality: the prompt and MILS's defaults.

    steps, requested (new texts asked per step), keep (candidates kept between steps), shown
    (candidates listed in the prompt), max_words (the prompt's length cap), patience (stop a target
    after this many steps without a better best text; None: run every step), seed, bootstrap
    ("index": search the bank's index; "encode": re-encode every bank text, MILS's reference),
    neighbours (bank texts beyond the kept ones handed to model-free proposers), fluency_gate and
    fluency_margin (see `invert_many`).
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
    scorer: str | None = None

    def __post_init__(self):
        for name in ("steps", "neighbours"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be 0 or more; got {getattr(self, name)}.")
        for name in ("requested", "keep", "shown", "max_words"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1; got {getattr(self, name)}.")
        if self.patience is not None and self.patience < 1:
            raise InputError(f"patience must be at least 1, or None to run every step; got {self.patience}.")
        if self.bootstrap not in BOOTSTRAPS:
            raise InputError(f"bootstrap must be one of {', '.join(BOOTSTRAPS)}; got {self.bootstrap!r}.")

    @classmethod
    def resolve(cls, *, space: str, generator: str, preferred_shown: int | None, modality: str = "image",
                steps: int | None = None, requested: int | None = None, keep: int | None = None,
                shown: int | None = None, **settings) -> "InversionConfig":
        """Settings left None take MILS's defaults for `modality`; `shown` defaults to the generator's preference."""
        if modality not in MILS_DEFAULTS:
            raise InputError(f"no prompt for modality {modality!r}; choose one of {', '.join(MILS_DEFAULTS)}.")
        unknown = set(settings) - {field.name for field in fields(cls)}
        if unknown:
            raise InputError(f"unknown inversion setting(s) {', '.join(sorted(unknown))}. Known: {', '.join(f.name for f in fields(cls))}.")
        defaults = MILS_DEFAULTS[modality]
        keep = keep or defaults["keep"]
        return cls(
            space=space, generator=generator, modality=modality,
            steps=defaults["steps"] if steps is None else steps, requested=requested or defaults["requested"], keep=keep,
            shown=shown or min(keep, preferred_shown or keep), **{"max_words": defaults["max_words"], **settings},
        )

    def to_dict(self) -> dict:
        return asdict(self)
