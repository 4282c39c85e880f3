"""The MILS inversion loop: `unembed.invert(embedding, space=..., bank=..., generator=...)`."""

import sys
import types

from .cache import TextEmbeddingCache, cache_for
from .loop import invert, invert_many
from .result import InversionResult, StepRecord

__all__ = ["invert", "invert_many", "InversionResult", "StepRecord", "TextEmbeddingCache", "cache_for"]


class _CallableModule(types.ModuleType):
    """`unembed.invert(...)` calls `invert` while `unembed.invert` stays the package (submodules import)."""

    def __call__(self, *args, **kwargs):
        return invert(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
