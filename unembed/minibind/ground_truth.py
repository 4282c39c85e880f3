"""What the world knows that a study needs: which attribute values a scene has, scenes embedded for training
and testing, and whether a text names a scene (or one attribute value) right, read by the world's parser.

`unembed bench minibind` and `unembed bench explain` score with these; the SAE notebook trains on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import world

# attribute -> how a one-object image scene or a one-event sound holds it, and its values
ATTRIBUTES = {
    "image": {
        "shape": (lambda s: s.objects[0].shape, world.SHAPES),
        "colour": (lambda s: s.objects[0].colour, tuple(world.COLOURS)),
        "size": (lambda s: s.objects[0].size, world.SIZES),
        "position": (lambda s: s.objects[0].position, world.POSITIONS),
        "element": (lambda s: s.element, world.ELEMENTS),
    },
    "audio": {
        "kind": (lambda s: s.events[0].kind, world.SOUNDS),
        "loudness": (lambda s: s.events[0].loudness, world.LOUDNESS),
        "pitch": (lambda s: s.events[0].pitch, world.PITCHES),
        "tempo": (lambda s: s.events[0].tempo, world.TEMPOS),
    },
}
# The element is optional in a scene: a scene without one is "another value" of it. Pitch and tempo
# do not apply to every sound: only sounds that have one are compared.
OPTIONAL = {"element"}


def embedded_scenes(modality: str, n: int, rng: np.random.Generator, space) -> tuple[list, np.ndarray]:
    """`n` fresh one-object images or one-event sounds (any combination, held out ones included) and their
    embeddings (float64); in a space that does not embed the modality (MiniLM), a paraphrase of each, as text."""
    family = "one-object" if modality == "image" else "one-event"
    pool = world.all_image_scenes(family) if modality == "image" else world.all_audio_scenes(family)
    scenes = [pool[i] for i in rng.integers(len(pool), size=n)]
    if modality not in space.modalities:
        return scenes, space.embed("text", [world.paraphrase(scene, rng) for scene in scenes]).astype(np.float64)
    return scenes, space.embed(modality, [world.render(scene, rng) for scene in scenes]).astype(np.float64)


def labels(modality: str, scenes) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """(attribute, value) pairs; has (n, values): the scene has the value; applies (n, values): it is compared."""
    pairs, has, applies = [], [], []
    for attribute, (read, values) in ATTRIBUTES[modality].items():
        held = np.array([read(scene) for scene in scenes], dtype=object)
        for value in values:
            pairs.append((attribute, value))
            has.append(held == value)
            applies.append(np.ones(len(scenes), bool) if attribute in OPTIONAL else held != None)  # noqa: E711 (elementwise)
    return pairs, np.array(has).T, np.array(applies).T


def named_right(text: str, modality: str, attribute: str, value: str) -> bool:
    """The parser reads `value` for `attribute` in `text`, and no other value of it."""
    parsed = world.parse_text(text, modality)
    if isinstance(parsed, world.AudioScene):  # modality "audio"
        found = {getattr(event, attribute) for event in parsed.events} - {None}
    elif attribute == "element":
        found = {parsed.element} - {None}
    else:
        found = {getattr(obj, attribute) for obj in parsed.objects} - {None}
    return found == {value}


def parsed_accuracy(texts: Sequence[str], scenes: Sequence, modality: str) -> float:
    """Share of `texts` that the world's parser reads as exactly their ground-truth scene."""
    return float(np.mean([world.matches(world.parse_text(text, modality), scene) for text, scene in zip(texts, scenes, strict=True)]))


def grammatical_accuracy(texts: Sequence[str], scenes: Sequence, modality: str) -> float:
    """Share of `texts` that parse to their scene AND that the world's caption grammar writes (world.in_grammar)."""
    return float(
        np.mean(
            [
                world.matches(world.parse_text(text, modality), scene) and world.in_grammar(text, modality)
                for text, scene in zip(texts, scenes, strict=True)
            ]
        )
    )


def strict_accuracy(texts: Sequence[str], scenes: Sequence, modality: str) -> float:
    """Share of `texts` that parse to their scene AND are that scene's canonical caption, word for word."""
    return float(
        np.mean(
            [
                world.matches(world.parse_text(text, modality), scene) and " ".join(text.split()) == world.caption(scene)
                for text, scene in zip(texts, scenes, strict=True)
            ]
        )
    )
