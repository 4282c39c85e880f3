"""The inverter: the MILS loop that joins a space, a bank and a generator. `unembed.invert(embedding, ...)`."""

from ..spaces import TextEmbeddingCache, cache_for
from .config import MILS_DEFAULTS, InversionConfig
from .loop import invert, invert_many
from .prompts import fill_template, load_template
from .result import InversionResult, StepRecord

__all__ = [
    "invert",
    "invert_many",
    "InversionConfig",
    "MILS_DEFAULTS",
    "InversionResult",
    "StepRecord",
    "TextEmbeddingCache",
    "cache_for",
    "fill_template",
    "load_template",
]
