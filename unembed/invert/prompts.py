"""MILS's per-modality defaults and prompt templates (package data in invert/prompts/)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from ..errors import InputError


@dataclass(frozen=True)
class ModalityDefaults:
    steps: int  # optimisation steps
    requested: int  # new texts asked of the generator per step
    keep: int  # best candidates kept between steps
    max_words: int  # the prompt's length cap


# MILS's settings: image captioning 10 steps, 50 requested, keep 50, "up to 10 words";
# audio captioning 19 steps, 50 requested, keep 10, "under 20 words".
DEFAULTS = {
    "image": ModalityDefaults(steps=10, requested=50, keep=50, max_words=10),
    "audio": ModalityDefaults(steps=19, requested=50, keep=10, max_words=20),
    "text": ModalityDefaults(steps=10, requested=50, keep=50, max_words=20),
}


def load_template(modality: str) -> str:
    if modality not in DEFAULTS:
        raise InputError(f"no prompt for modality {modality!r}; choose one of {', '.join(DEFAULTS)}.")
    return files("unembed.invert").joinpath("prompts", f"{modality}.txt").read_text(encoding="utf-8")


def fill_template(template: str, candidates: list[tuple[float, str]], max_words: int) -> str:
    """The prompt with `score: text` lines, best first; `{requested}` stays open for the generator."""
    lines = "\n".join(f"{score:.3f}: {text}" for score, text in candidates)
    return template.replace("{descriptions}", lines).replace("{max_words}", str(max_words))
