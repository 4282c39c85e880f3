"""The world's caption grammar: one canonical caption per scene, and whether a text is one."""

from __future__ import annotations

import functools

from .scenes import LOUDNESS, AudioScene, ImageScene, SoundEvent, all_scenes, all_sound_events, is_held_out


def _an(phrase: str) -> str:
    return ("an " if phrase[:1] in "aeiou" else "a ") + phrase


_POSITION_CANON = {"left": "on the left", "centre": "in the centre", "right": "on the right"}
_ELEMENT_CANON = {
    "rain": "in the rain",
    "lightning": "under lightning",
    "birds": "with birds flying above",
    "bell": "below a bell",
    "car": "above a car",
}
_SOUND_CANON = {
    "rain": "rain falling",
    "thunder": "thunder rumbling",
    "wind": "wind blowing",
    "birds": "birds chirping",
    "bell": "bell ringing",
    "engine": "engine running",
    "clock": "clock ticking",
}


def _event_caption(event: SoundEvent) -> str:
    words = [event.loudness] if event.loudness else []
    if event.pitch:
        words.append(f"{event.pitch}-pitched")
    words.append(_SOUND_CANON[event.kind])
    if event.tempo:
        words.append("fast" if event.tempo == "fast" else "slowly")
    text = " ".join(words)
    return _an(text) if event.kind in ("bell", "engine", "clock") else text


def canonical_captions(modality: str, *, held_out: bool = True) -> list[str]:
    """The canonical caption of every image or audio scene: the world's own caption bank.
    held_out=False leaves out the scenes held out of training (an open-world bank: none of them is in it)."""
    return [caption(scene) for scene in all_scenes(modality) if held_out or not is_held_out(scene)]


def caption(scene: ImageScene | AudioScene) -> str:
    """The one canonical caption of a scene (the retrieval candidates use these)."""
    if isinstance(scene, AudioScene):
        return " and ".join(_event_caption(event) for event in scene.events)
    if len(scene.objects) == 2:
        left, right = scene.objects
        return f"{_an(f'{left.colour} {left.shape}')} on the left and {_an(f'{right.colour} {right.shape}')} on the right"
    (obj,) = scene.objects
    assert obj.position is not None, "a scene to caption names its object's position"
    text = f"{_an(f'{obj.size} {obj.colour} {obj.shape}')} {_POSITION_CANON[obj.position]}"
    return f"{text} {_ELEMENT_CANON[scene.element]}" if scene.element else text


@functools.cache
def _image_captions() -> frozenset[str]:
    return frozenset(canonical_captions("image"))


@functools.cache
def _event_kinds() -> dict[str, str]:
    """Every sound-event caption, with and without a loudness, and the sound it names."""
    return {_event_caption(event): event.kind for loudness in ((None,), LOUDNESS) for event in all_sound_events(loudness)}


def in_grammar(text: str, modality: str) -> bool:
    """Whether the world's own caption grammar writes `text`: an image scene's caption, or one or two
    sound-event captions (with or without a loudness) of different sounds joined by "and".
    "loud low-pitched birds chirping slowly and a clock ticking slowly" is in it (two-event scenes just
    do not name loudness); "a quiet low-pitched birds chirping" and "a red star on the left and a red
    color" are not."""
    text = " ".join(text.split())
    if modality == "image":
        return text in _image_captions()
    kinds = [_event_kinds().get(part) for part in text.split(" and ")]
    return len(kinds) in (1, 2) and None not in kinds and len(set(kinds)) == len(kinds)
