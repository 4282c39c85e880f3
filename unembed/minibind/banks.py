"""Caption banks for MiniBind's targets: the world's own captions, with MILS's lines as distractors.

The closed world holds every canonical caption, so inverting a scene is retrieval; the open world holds
only the captions of the combinations seen in training (and no distractor that parses to a held-out
scene), so no caption in it names a held-out scene and the loop has to compose the answer.
"""

from __future__ import annotations

import numpy as np

from ..index import Bank, collect_captions
from . import world
from .captions import CaptionCache

MILS_DISTRACTORS = {"image": "mils-image", "audio": "mils-audio"}


def mils_distractors(modality: str, count: int, seed: int) -> list[str]:
    """A seeded sample of `count` of MILS's caption lines of the modality (in file order)."""
    if count <= 0:
        return []
    lines = collect_captions([MILS_DISTRACTORS[modality]])
    picks = np.random.default_rng(seed).choice(len(lines), size=min(count, len(lines)), replace=False)
    return [lines[i] for i in sorted(picks)]


def world_bank(space, modality: str, cache: CaptionCache, distractors: list[str], *, open_world: bool = False) -> Bank:
    """A flat bank of every canonical caption of the modality's world plus `distractors`; open world:
    only the captions of trainable scenes, and no text that parses to a held-out scene."""
    captions = world.canonical_captions(modality, held_out=not open_world)
    if open_world:
        distractors = [text for text in distractors if not world.is_held_out(world.parse_text(text, modality))]
    texts = list(dict.fromkeys(captions + distractors))
    return Bank.from_vectors(texts, cache.embed(texts), space, index="Flat")
