"""MiniBind: a small joint image/audio/text space trained offline into frozen MiniLM (ImageBind's recipe).

`load_space("minibind")` embeds text with MiniLM and images/sounds with two small encoders whose
weights ship in weights/. The procedural world they were trained on (`world`: scenes, grammar,
vocabulary, parse, draw, sound) knows the true caption of every scene, so inversion can be scored
exactly. Retrain: `python -m unembed.minibind.train`.

`register()` registers what MiniBind brings to each room. unembed declares it as an entry point
(`unembed.plugins`: `minibind = unembed.minibind:register`), so the registries call it the first time
they miss a name and `load_space("minibind")` works right after `import unembed`. It registers the `minibind` space, the
`minibind` renderer (its world drawn from text), the caption sources `minibind-image` and
`minibind-audio` (one canonical caption per scene of the world; `minibind-image:open-world` leaves out
the scenes held out of training, so that inverting one of them has to compose its caption) and the
eval sets `minibind-image` and `minibind-audio` (held-out scenes with several world captions each as references).

`banks` builds the world's caption banks (closed or open world, with MILS distractors); `ground_truth`
says which attribute values a scene has and whether a text names them right, for benches and studies.
"""

import functools

from ..errors import InputError
from ..evaluation import register_eval_set
from ..index import register_source
from ..renderers import register_renderer
from ..spaces import register_space
from . import world
from .banks import mils_distractors, world_bank
from .captions import CaptionCache, family_candidates, retrieval_top1
from .evalset import minibind_eval_set, scene_references


def _world_captions(modality: str, argument: str = "") -> list[str]:
    if argument not in ("", "open-world"):
        raise InputError(
            f"minibind-{modality}:{argument}: unknown argument. Use minibind-{modality} (every scene) "
            f"or minibind-{modality}:open-world (no scene held out of training)."
        )
    return world.canonical_captions(modality, held_out=argument == "")


def register() -> None:
    """Register MiniBind's space, renderer, caption sources and eval sets (the `unembed.plugins` entry point)."""
    register_space("minibind", "unembed.minibind.space:load_minibind", extra="minibind")
    register_renderer("minibind", "unembed.minibind.renderer:load_minibind_renderer", extra="minibind")
    register_source("minibind-image", functools.partial(_world_captions, "image"), modality="image")
    register_source("minibind-audio", functools.partial(_world_captions, "audio"), modality="audio")
    register_eval_set("minibind-image", functools.partial(minibind_eval_set, "image"))
    register_eval_set("minibind-audio", functools.partial(minibind_eval_set, "audio"))


__all__ = ["register", "world", "CaptionCache", "family_candidates", "retrieval_top1", "scene_references", "mils_distractors", "world_bank"]
