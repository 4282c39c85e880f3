"""Embedding spaces and their registry: `load_space("minilm")`, `load_space("openclip:MODEL/PRETRAINED")`.

A spec is `NAME` or `NAME:ARGUMENT`. NAME picks a factory; the argument (a model name, a
checkpoint) is passed to it. Built-in factories are imported lazily so that a space's heavy
dependencies are only needed when that space is used.
"""

from __future__ import annotations

import importlib
from typing import Callable

from ..errors import SpaceError
from .base import Space, normalise_rows

SpaceFactory = Callable[..., Space]

# name -> "module:attribute" of a callable (argument: str, **options) -> Space
_BUILTIN = {
    "minilm": "unembed.spaces.sentence_transformers:load_minilm",
    "st": "unembed.spaces.sentence_transformers:load_sentence_transformer",
    "imagebind": "unembed.spaces.imagebind:load_imagebind",
    "openclip": "unembed.spaces.openclip:load_openclip",
    "minibind": "unembed.spaces.minibind.space:load_minibind",
}
_REGISTERED: dict[str, SpaceFactory] = {}


def register_space(name: str, factory: SpaceFactory) -> None:
    """Make `load_space(f"{name}:...")` call `factory(argument, **options)`."""
    if not name or ":" in name:
        raise SpaceError(f"space name {name!r} must be non-empty and contain no ':'")
    _REGISTERED[name] = factory


def available_spaces() -> list[str]:
    return sorted(set(_BUILTIN) | set(_REGISTERED))


def load_space(spec: str | Space, **options) -> Space:
    """Build the space named by `spec`; a Space instance is returned unchanged."""
    if isinstance(spec, Space):
        return spec
    name, _, argument = str(spec).partition(":")
    factory = _REGISTERED.get(name)
    if factory is None and name in _BUILTIN:
        module_name, attribute = _BUILTIN[name].split(":")
        factory = getattr(importlib.import_module(module_name), attribute)
    if factory is None:
        raise SpaceError(
            f"unknown space {spec!r}. Known: {', '.join(available_spaces())}. "
            "Use one of those, or register your own with unembed.spaces.register_space()."
        )
    return factory(argument, **options)


__all__ = ["Space", "load_space", "register_space", "available_spaces", "normalise_rows"]
