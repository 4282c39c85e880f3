"""Embedding spaces and their registry: `load_space("minilm")`, `load_space("openclip:MODEL/PRETRAINED")`.

A spec is `NAME` or `NAME:ARGUMENT` (unembed.registry): NAME picks a factory, the argument (a model
name, a checkpoint) is passed to it, options are keyword arguments. Built-in factories are imported
on first use, so a space's heavy dependencies are only needed when that space is used.
"""

from __future__ import annotations

from ..errors import SpaceError
from ..registry import Registry
from . import inputs
from .base import MILS_CAPTION_SOURCES, Space, normalise_rows
from .cache import TextEmbeddingCache, cache_for
from .inputs import input_of, modality_of

SPACES: Registry[Space] = Registry("space", Space, SpaceError)
SPACES.register("minilm", "unembed.spaces.sentence_transformers:load_minilm")
SPACES.register("st", "unembed.spaces.sentence_transformers:load_sentence_transformer")
SPACES.register("imagebind", "unembed.spaces.imagebind:load_imagebind", extra="imagebind")
SPACES.register("openclip", "unembed.spaces.openclip:load_openclip", extra="clip")

register_space = SPACES.register
load_space = SPACES.load
available_spaces = SPACES.available

__all__ = [
    "Space",
    "SpaceError",
    "SPACES",
    "load_space",
    "register_space",
    "available_spaces",
    "normalise_rows",
    "inputs",
    "input_of",
    "modality_of",
    "MILS_CAPTION_SOURCES",
    "TextEmbeddingCache",
    "cache_for",
]
