"""MiniBind: a small joint image/audio/text space trained offline into frozen MiniLM (ImageBind's recipe).

`load_space("minibind")` embeds text with MiniLM and images/sounds with two small encoders whose
weights ship in weights/. The procedural world they were trained on (world.py) knows the true
caption of every scene, so inversion can be scored exactly. Retrain: `python -m unembed.minibind.train`.

Importing this package registers what MiniBind brings to each room: the `minibind` space, the
`minibind` renderer (its world drawn from text) and the caption sources `minibind-image` and
`minibind-audio` (one canonical caption per scene of the world; `minibind-image:open-world` leaves out
the scenes held out of training, so that inverting one of them has to compose its caption).
"""

import functools

from ..errors import InputError
from ..index import register_source
from ..renderers import register_renderer
from ..spaces import register_space
from . import world
from .captions import CaptionCache, family_candidates, retrieval_top1


def _world_captions(modality: str, argument: str = "") -> list[str]:
    if argument not in ("", "open-world"):
        raise InputError(f"minibind-{modality}:{argument}: unknown argument. Use minibind-{modality} (every scene) "
                         f"or minibind-{modality}:open-world (no scene held out of training).")
    return world.canonical_captions(modality, held_out=argument == "")


register_space("minibind", "unembed.minibind.space:load_minibind", extra="minibind")
register_renderer("minibind", "unembed.minibind.renderer:load_minibind_renderer", extra="minibind")
register_source("minibind-image", functools.partial(_world_captions, "image"), modality="image")
register_source("minibind-audio", functools.partial(_world_captions, "audio"), modality="audio")

__all__ = ["world", "CaptionCache", "family_candidates", "retrieval_top1"]
