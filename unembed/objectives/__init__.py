"""Objectives: what the MILS loop maximises. texts -> one score per text, higher is better.

    load_objective("cosine", target=v)                       the default: invert one embedding
    load_objective("direction", direction=d, baseline=bank)  what a direction means (centred: "direction:centred")
    load_objective("contrast", a=A, b=B, weight=1.0)         close to A, far from B
    load_objective("set:mean", vectors=G)                    what a group shares ("set:min": its worst member)
    load_objective("probe", weights=w, bias=b)               a linear probe's value
    load_objective("sae_feature:sae.safetensors#1337")        a sparse-autoencoder feature's activation
    SparseAutoencoder("sae.safetensors").feature(1337)       the same, the file read once for many features
    load_objective("rendered", target=v, space="minibind")    render-and-score: the picture's cosine

Parameters are checked when the objective is made, and its width against the space before the loop starts.
"""

from __future__ import annotations

from ..errors import ObjectiveError
from ..registry import Registry
from .base import Embedder, Objective
from .builtin import Contrast, Cosine, Direction, Probe, Set
from .rendered import Rendered, RenderedImageEmbedder
from .sae import ACTIVATIONS, SAEFeature, SparseAutoencoder

OBJECTIVES: Registry[Objective] = Registry("objective", Objective, ObjectiveError)
OBJECTIVES.register("cosine", "unembed.objectives.builtin:load_cosine")
OBJECTIVES.register("direction", "unembed.objectives.builtin:load_direction")
OBJECTIVES.register("contrast", "unembed.objectives.builtin:load_contrast")
OBJECTIVES.register("set", "unembed.objectives.builtin:load_set")
OBJECTIVES.register("probe", "unembed.objectives.builtin:load_probe")
OBJECTIVES.register("sae_feature", "unembed.objectives.sae:load_sae_feature", extra="sae")
OBJECTIVES.register("rendered", "unembed.objectives.rendered:load_rendered")

register_objective = OBJECTIVES.register
load_objective = OBJECTIVES.load
available_objectives = OBJECTIVES.available

__all__ = [
    "Objective",
    "Embedder",
    "Cosine",
    "Direction",
    "Contrast",
    "Set",
    "Probe",
    "SAEFeature",
    "SparseAutoencoder",
    "ACTIVATIONS",
    "Rendered",
    "RenderedImageEmbedder",
    "OBJECTIVES",
    "load_objective",
    "register_objective",
    "available_objectives",
]
