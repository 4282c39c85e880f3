"""The world's scenes: the attributes they are built from, the scene dataclasses, and every scene of
each family; which combinations are held out of training, and random draws of scenes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "square", "triangle", "star", "heart", "cross")
COLOURS = {
    "red": (215, 35, 35),
    "orange": (245, 135, 25),
    "yellow": (240, 215, 30),
    "green": (35, 160, 55),
    "blue": (35, 80, 215),
    "purple": (130, 50, 180),
    "pink": (250, 125, 185),
    "brown": (120, 72, 35),
}
SIZES = ("small", "large")
POSITIONS = ("left", "centre", "right")
ELEMENTS = ("rain", "lightning", "birds", "bell", "car")  # image scene elements; each makes a sound

SOUNDS = ("rain", "thunder", "wind", "birds", "bell", "engine", "clock")
LOUDNESS = ("quiet", "loud")
PITCHES = ("low", "high")
TEMPOS = ("slow", "fast")
HAS_PITCH = frozenset({"birds", "bell", "engine"})
HAS_TEMPO = frozenset({"birds", "bell", "clock"})

# Combinations never shown in training (neither as media nor as caption text).
HELD_OUT_COLOUR_SHAPES = frozenset(
    {("red", "star"), ("orange", "heart"), ("yellow", "cross"), ("green", "circle"), ("blue", "triangle"), ("purple", "square")}
)
HELD_OUT_SOUND_ATTRIBUTES = frozenset(
    {("bell", "high", "fast"), ("birds", "low", "slow"), ("clock", "loud", "fast"), ("engine", "high", "quiet")}
)
HELD_OUT_SOUND_PAIRS = frozenset({frozenset({"rain", "bell"}), frozenset({"thunder", "birds"}), frozenset({"wind", "clock"})})


@dataclass(frozen=True)
class ShapeObject:
    shape: str
    colour: str | None  # None: a parsed text that does not name it
    position: str | None
    size: str | None = None  # two-object scenes draw both at one medium size and do not name it


@dataclass(frozen=True)
class ImageScene:
    objects: tuple[ShapeObject, ...]
    element: str | None = None

    @property
    def family(self) -> str:
        return "one-object" if len(self.objects) == 1 else "two-objects"


@dataclass(frozen=True)
class SoundEvent:
    kind: str
    loudness: str | None  # two-event scenes play both events at one medium level and do not name it
    pitch: str | None = None
    tempo: str | None = None


@dataclass(frozen=True)
class AudioScene:
    events: tuple[SoundEvent, ...]  # in SOUNDS order, distinct kinds

    @property
    def family(self) -> str:
        return "one-event" if len(self.events) == 1 else "two-events"


def all_image_scenes(family: str) -> list[ImageScene]:
    """Every scene of a family, in a fixed order: the candidate set of image retrieval."""
    if family == "one-object":
        return [
            ImageScene((ShapeObject(shape, colour, position, size),), element)
            for element in (None, *ELEMENTS)
            for shape, colour, size, position in itertools.product(SHAPES, COLOURS, SIZES, POSITIONS)
        ]
    if family == "two-objects":
        pairs = list(itertools.product(SHAPES, COLOURS))
        return [
            ImageScene((ShapeObject(*left, "left"), ShapeObject(*right, "right")))
            for left, right in itertools.product(pairs, pairs)
            if left != right
        ]
    raise ValueError(f"unknown image family {family!r}")


def all_sound_events(loudnesses: tuple = LOUDNESS) -> list[SoundEvent]:
    return [
        SoundEvent(kind, loudness, pitch, tempo)
        for kind in SOUNDS
        for loudness in loudnesses
        for pitch in (PITCHES if kind in HAS_PITCH else (None,))
        for tempo in (TEMPOS if kind in HAS_TEMPO else (None,))
    ]


def all_audio_scenes(family: str) -> list[AudioScene]:
    events = all_sound_events()
    if family == "one-event":
        return [AudioScene((event,)) for event in events]
    if family == "two-events":
        order = {kind: index for index, kind in enumerate(SOUNDS)}
        unlevelled = all_sound_events((None,))
        return [AudioScene((a, b)) for a, b in itertools.product(unlevelled, unlevelled) if order[a.kind] < order[b.kind]]
    raise ValueError(f"unknown audio family {family!r}")


IMAGE_FAMILIES = ("one-object", "two-objects")
AUDIO_FAMILIES = ("one-event", "two-events")


def all_scenes(modality: str) -> list[ImageScene] | list[AudioScene]:
    """Every image or audio scene of the world, all families, in a fixed order."""
    if modality == "image":
        return [scene for family in IMAGE_FAMILIES for scene in all_image_scenes(family)]
    if modality == "audio":
        return [scene for family in AUDIO_FAMILIES for scene in all_audio_scenes(family)]
    raise ValueError(f"unknown modality {modality!r}: use 'image' or 'audio'")


def is_held_out(scene: ImageScene | AudioScene) -> bool:
    if isinstance(scene, ImageScene):
        return any((obj.colour, obj.shape) in HELD_OUT_COLOUR_SHAPES for obj in scene.objects)
    for event in scene.events:
        for kind, *attributes in HELD_OUT_SOUND_ATTRIBUTES:
            if event.kind == kind and all(a in (event.loudness, event.pitch, event.tempo) for a in attributes):
                return True
    return frozenset(event.kind for event in scene.events) in HELD_OUT_SOUND_PAIRS


def sample_scenes(modality: str, n: int, rng: np.random.Generator, *, held_out: bool) -> list:
    """`n` random image or audio scenes (families mixed evenly), all held out or all trainable."""
    families = IMAGE_FAMILIES if modality == "image" else AUDIO_FAMILIES
    enumerate_family = all_image_scenes if modality == "image" else all_audio_scenes
    pools = [[s for s in enumerate_family(family) if is_held_out(s) == held_out] for family in families]
    picks = rng.integers(0, len(pools), size=n)
    return [pools[p][rng.integers(len(pools[p]))] for p in picks]
