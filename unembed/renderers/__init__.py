"""Text-to-image renderers and their registry: `load_renderer("minibind")`, `load_renderer("diffusers:MODEL")`.

A spec is `NAME` or `NAME:ARGUMENT` (unembed.registry); the argument (a model id, a folder) goes to the factory.
"""

from __future__ import annotations

from ..errors import RendererError
from ..registry import Registry
from .base import Renderer

RENDERERS: Registry[Renderer] = Registry("renderer", Renderer, RendererError)
RENDERERS.register("diffusers", "unembed.renderers.diffusers:load_diffusers", extra="render")

register_renderer = RENDERERS.register
load_renderer = RENDERERS.load
available_renderers = RENDERERS.available

__all__ = ["Renderer", "RendererError", "RENDERERS", "load_renderer", "register_renderer", "available_renderers"]
