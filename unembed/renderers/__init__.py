"""Text-to-image renderers and their registry: `load_renderer("minibind")`.

Built-in renderers are imported lazily, like spaces, so their dependencies are only needed when used.
"""

from __future__ import annotations

import importlib

from ..errors import InputError
from .base import Renderer

# name -> "module:attribute" of a callable (**options) -> Renderer
_BUILTIN = {
    "minibind": "unembed.renderers.minibind:MiniBindRenderer",
}


def load_renderer(name: str, **options) -> Renderer:
    if name not in _BUILTIN:
        raise InputError(f"unknown renderer {name!r}. Known: {', '.join(sorted(_BUILTIN))}.")
    module_name, attribute = _BUILTIN[name].split(":")
    return getattr(importlib.import_module(module_name), attribute)(**options)


__all__ = ["Renderer", "load_renderer"]
