"""The MILS inversion loop: `invert(embedding, space=..., bank=..., generator=...)`."""

from .cache import TextEmbeddingCache, cache_for
from .loop import invert, invert_many
from .result import InversionResult, StepRecord

__all__ = ["invert", "invert_many", "InversionResult", "StepRecord", "TextEmbeddingCache", "cache_for"]
