"""MiniBind's eval sets: held-out scenes rendered and embedded, with several world captions as references.

`minibind-image` / `minibind-audio` (registered by the package): `n` scenes whose attribute
combinations were never seen in training (`world.is_held_out`), drawn with `seed`, rendered and
embedded with the minibind space as `unembed bench minibind` does. Each scene's references are its
canonical caption and paraphrases from the world's grammar (synonyms, word orders, framings), as a
COCO image has five human captions. The bank to invert them with is the world's own caption source
minus exclude.txt, so the bank cannot return the answer: the loop has to compose it.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..evaluation import EvalSet
from ..spaces import load_space
from . import world

REFERENCES_PER_SCENE = 5


def scene_references(scene, rng: np.random.Generator, count: int = REFERENCES_PER_SCENE) -> list[str]:
    """The scene's canonical caption, then distinct paraphrases, `count` in all (fewer if the grammar runs out)."""
    references = [world.caption(scene)]
    for _ in range(50 * count):
        if len(references) == count:
            break
        text = world.paraphrase(scene, rng)
        if text not in references:
            references.append(text)
    return references


def minibind_eval_set(modality: str, argument: str, *, n: int, seed: int, space: str | None = None) -> EvalSet:
    if argument:
        raise InputError(f"the minibind-{modality} eval set takes no argument (got {argument!r}); choose the weights with space=.")
    rng = np.random.default_rng(seed)
    scenes = world.sample_scenes(modality, n, rng, held_out=True)
    items = [world.render(scene, rng) for scene in scenes]
    embedding = load_space(space or "minibind")
    vectors = embedding.embed(modality, items)
    paraphrases = np.random.default_rng([seed, 1])  # apart from the scenes', so the targets do not depend on it
    references = [scene_references(scene, paraphrases) for scene in scenes]
    return EvalSet(
        f"minibind-{modality}",
        embedding.spec,
        modality,
        f"minibind-{modality}",
        [f"{index:05d}" for index in range(n)],
        vectors,
        references,
        seed,
    )
