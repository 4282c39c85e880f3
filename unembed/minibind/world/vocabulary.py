"""The world's paraphrase vocabulary (synonyms per attribute) and random paraphrases of a scene."""

from __future__ import annotations

import numpy as np

from .grammar import _an
from .scenes import COLOURS, AudioScene, ImageScene, ShapeObject, SoundEvent

# Paraphrase vocabulary: the first entry of each list is what `caption` uses.
_SHAPE_WORDS = {
    "circle": ["circle", "disc", "round shape", "dot"],
    "square": ["square", "box", "square shape", "block"],
    "triangle": ["triangle", "triangular shape", "three-sided shape"],
    "star": ["star", "five-pointed star", "star shape"],
    "heart": ["heart", "heart shape", "love heart"],
    "cross": ["cross", "plus sign", "plus shape"],
}
_COLOUR_WORDS = {colour: [colour] for colour in COLOURS} | {"purple": ["purple", "violet"], "pink": ["pink", "rose-pink"]}
_SIZE_WORDS = {"small": ["small", "little", "tiny"], "large": ["large", "big", "huge"]}
_POSITION_WORDS = {
    "left": ["on the left", "to the left", "at the left", "on the left side", "left side", "on the left-hand side"],
    "centre": ["in the centre", "in the middle", "in the center", "centered", "at the centre"],
    "right": ["on the right", "to the right", "at the right", "on the right side", "right side", "on the right-hand side"],
}
_ELEMENT_WORDS = {
    "rain": ["in the rain", "with rain falling", "while it is raining", "in rainy weather"],
    "lightning": ["under lightning", "with lightning in the sky", "during a thunderstorm", "as lightning flashes"],
    "birds": ["with birds flying above", "with birds in the sky", "under a flock of birds"],
    "bell": ["below a bell", "with a bell hanging above", "under a golden bell"],
    "car": ["above a car", "with a car driving past below", "with a car at the bottom"],
}
_LOUDNESS_WORDS = {"quiet": ["quiet", "soft", "faint", "gentle"], "loud": ["loud", "strong", "powerful", "booming"]}
_PITCH_WORDS = {"low": ["low-pitched", "deep", "low"], "high": ["high-pitched", "shrill", "high"]}
_TEMPO_WORDS = {"slow": ["slowly", "at a slow pace", "leisurely"], "fast": ["fast", "quickly", "rapidly"]}
_SOUND_NOUNS = {
    "rain": ["rain", "rainfall"],
    "thunder": ["thunder", "a thunderclap"],
    "wind": ["wind", "a gust of wind"],
    "birds": ["birds", "songbirds"],
    "bell": ["a bell", "a chime"],
    "engine": ["an engine", "a motor"],
    "clock": ["a clock", "a ticking clock"],
}
_SOUND_VERBS = {
    "rain": "falling",
    "thunder": "rumbling",
    "wind": "blowing",
    "birds": "chirping",
    "bell": "ringing",
    "engine": "running",
    "clock": "ticking",
}


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[rng.integers(len(options))]


def _object_paraphrase(obj: ShapeObject, rng: np.random.Generator, *, with_position: bool = True) -> str:
    assert obj.colour is not None and obj.position is not None, "a scene to paraphrase names every colour and position"
    shape = _pick(rng, _SHAPE_WORDS[obj.shape])
    colour = _pick(rng, _COLOUR_WORDS[obj.colour])
    size = _pick(rng, _SIZE_WORDS[obj.size]) if obj.size else ""
    position = _pick(rng, _POSITION_WORDS[obj.position]) if with_position else ""
    templates = [
        "{a} {size} {colour} {shape} {position}",
        "{colour} {shape}, {size}, {position}",
        "{a} {shape} in {colour}, {size}, {position}",
        "{position}, {a} {size} {colour} {shape}",
        "{a} {colour} {shape} {position} that is {size}",
    ]
    if not size:
        templates = [t.replace(", {size}", "").replace(" that is {size}", "").replace(" {size}", "") for t in templates]
    if not position:
        templates = [t.replace("{position}, ", "").replace(", {position}", "").replace(" {position}", "") for t in templates]
    template = _pick(rng, templates)
    words = dict(size=size, colour=colour, shape=shape, position=position)
    after_article = template.split("{a} ", 1)[-1].format(**words)
    text = template.format(a=_an(after_article).split()[0], **words)
    return " ".join(text.split())


def _event_paraphrase(event: SoundEvent, rng: np.random.Generator) -> str:
    noun = _pick(rng, _SOUND_NOUNS[event.kind])
    verb = _SOUND_VERBS[event.kind]
    loud = _pick(rng, _LOUDNESS_WORDS[event.loudness]) if event.loudness else ""
    pitch = _pick(rng, _PITCH_WORDS[event.pitch]) if event.pitch else ""
    tempo = _pick(rng, _TEMPO_WORDS[event.tempo]) if event.tempo else ""
    bare = noun.split(" ", 1)[1] if noun.startswith(("a ", "an ")) else noun
    choice = rng.integers(4)
    if choice == 0:
        text = f"{loud} {pitch} {bare} {verb} {tempo}"
        text = _an(" ".join(text.split())) if bare != noun else text
    elif choice == 1:
        qualities = " and ".join(word for word in (pitch, loud) if word)
        text = f"{noun} {verb} {tempo}" + (f", {qualities}" if qualities else "")
    elif choice == 2:
        text = f"the {loud} sound of {noun} {verb} {tempo}" + (f", {pitch} in tone" if pitch else "")
    else:
        text = ", ".join(word for word in (noun, loud, pitch, f"{verb} {tempo}") if word)
    return " ".join(text.replace(" ,", ",").split())


def paraphrase(scene: ImageScene | AudioScene, rng: np.random.Generator) -> str:
    """A random caption of `scene` from the grammar (synonyms, word orders, framings)."""
    if isinstance(scene, AudioScene):
        parts = [_event_paraphrase(event, rng) for event in scene.events]
        if len(parts) == 1:
            framings = ["{0}"] if parts[0].startswith("the ") else ["{0}", "the sound of {0}", "you can hear {0}", "{0} can be heard"]
            return _pick(rng, framings).format(parts[0])
        if rng.random() < 0.5:
            parts.reverse()
        return _pick(rng, ["{0} and {1}", "{0}, with {1} in the background", "{0} while {1}", "the sound of {0} and {1}"]).format(*parts)
    if len(scene.objects) == 2:
        left, right = scene.objects
        if rng.random() < 0.25:
            return (
                f"{_object_paraphrase(left, rng, with_position=False)} to the left of {_object_paraphrase(right, rng, with_position=False)}"
            )
        parts = [_object_paraphrase(left, rng), _object_paraphrase(right, rng)]
        if rng.random() < 0.5:
            parts.reverse()
        return _pick(rng, ["{0} and {1}", "{0}, {1}", "two shapes: {0} and {1}"]).format(*parts)
    text = _object_paraphrase(scene.objects[0], rng)
    if scene.element:
        element = _pick(rng, _ELEMENT_WORDS[scene.element])
        text = f"{text}, {element}" if rng.random() < 0.5 else f"{element}, {text}"
    return _pick(rng, ["{0}", "an image of {0}", "a picture showing {0}", "{0} on a plain background"]).format(text)
