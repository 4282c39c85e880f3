"""Text-to-image renderers and their registry: `load_renderer("minibind")`, `load_renderer("diffusers:MODEL")`.

A spec is `NAME` or `NAME:ARGUMENT`, as for spaces; the argument (a model id, a folder) goes to the factory.

Built-in renderers are imported lazily, like spaces, so their dependencies are only needed when used.
"""

from __future__ import annotations

import importlib

from ..errors import InputError
from .base import Renderer

# name -> "module:attribute" of a callable ([argument,] **options) -> Renderer
_BUILTIN = {
    "minibind": "unembed.renderers.minibind:MiniBindRenderer",
    "diffusers": "unembed.renderers.diffusers:load_diffusers",
}


def load_renderer(spec: str | Renderer, **options) -> Renderer:
    """Build the renderer named by `spec`; a Renderer instance is returned unchanged (as `load_space` does)."""
    if isinstance(spec, Renderer):
        return spec
    name, _, argument = spec.partition(":")
    if name not in _BUILTIN:
        raise InputError(f"unknown renderer {spec!r}. Known: {', '.join(sorted(_BUILTIN))}.")
    module_name, attribute = _BUILTIN[name].split(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    return factory(argument, **options) if argument else factory(**options)


__all__ = ["Renderer", "load_renderer"]
