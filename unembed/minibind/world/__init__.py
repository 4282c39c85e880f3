"""MiniBind's procedural world: scenes whose true captions we know, rendered as images and sounds.

Images (64x64 RGB) hold one object (shape, colour, size, position) with an optional scene element
that also has a sound (rain, lightning, birds, a bell, a car), or two objects side by side. Sounds
(16 kHz mono, 2 s) hold one or two events (rain, thunder, wind, birds, a bell, an engine, a clock)
with pitch and tempo where they make sense, and loudness in one-event scenes.

Two-event sounds do not name loudness (both events play at one medium level), just as two-object
pictures do not name size. This is a design choice forced by the frozen text tower: MiniLM barely
tells "quiet wind and a loud clock" from "loud wind and a quiet clock" (cosine ~0.998; a ridge
regression from the true per-event attributes to the caption embeddings retrieves only 0.87 of the
held-out two-event captions, missing on swapped loudness), so a caption that binds a loudness to
each of two events asks the audio encoder for a distinction the text space hardly holds. The parser
likewise ignores loudness words when it finds two or more sounds.

Every scene has one canonical caption (`caption(scene)`) and many paraphrases (`paraphrase(scene,
rng)`); `parse_image_text` / `parse_audio_text` read free text (synonyms, any word order, the
padding an LLM adds) back into a scene, so inverted text can be scored attribute by attribute.
Some attribute combinations are held out of training (`is_held_out`) to measure generalisation.

The parts: `scenes` (attributes, scene dataclasses, families, held-out sets, sampling), `grammar`
(canonical captions, `in_grammar`), `vocabulary` (synonyms, `paraphrase`), `parse` (free text back
into scenes), `draw` (`render_image`) and `sound` (`render_audio`); `render` here turns a scene into
the item `space.embed` takes. Every public name is re-exported here: use `world.caption(...)`.
"""

from __future__ import annotations

import numpy as np

from .draw import IMAGE_SIZE, render_image
from .grammar import canonical_captions, caption, in_grammar
from .parse import matches, parse_audio_text, parse_image_text, parse_text
from .scenes import (
    AUDIO_FAMILIES,
    COLOURS,
    ELEMENTS,
    HAS_PITCH,
    HAS_TEMPO,
    HELD_OUT_COLOUR_SHAPES,
    HELD_OUT_SOUND_ATTRIBUTES,
    HELD_OUT_SOUND_PAIRS,
    IMAGE_FAMILIES,
    LOUDNESS,
    PITCHES,
    POSITIONS,
    SHAPES,
    SIZES,
    SOUNDS,
    TEMPOS,
    AudioScene,
    ImageScene,
    ShapeObject,
    SoundEvent,
    all_audio_scenes,
    all_image_scenes,
    all_scenes,
    all_sound_events,
    is_held_out,
    sample_scenes,
)
from .sound import CLIP_SAMPLES, CLIP_SECONDS, SAMPLE_RATE, render_audio
from .vocabulary import paraphrase

__all__ = [
    "AUDIO_FAMILIES",
    "CLIP_SAMPLES",
    "CLIP_SECONDS",
    "COLOURS",
    "ELEMENTS",
    "HAS_PITCH",
    "HAS_TEMPO",
    "HELD_OUT_COLOUR_SHAPES",
    "HELD_OUT_SOUND_ATTRIBUTES",
    "HELD_OUT_SOUND_PAIRS",
    "IMAGE_FAMILIES",
    "IMAGE_SIZE",
    "LOUDNESS",
    "PITCHES",
    "POSITIONS",
    "SAMPLE_RATE",
    "SHAPES",
    "SIZES",
    "SOUNDS",
    "TEMPOS",
    "AudioScene",
    "ImageScene",
    "ShapeObject",
    "SoundEvent",
    "all_audio_scenes",
    "all_image_scenes",
    "all_scenes",
    "all_sound_events",
    "canonical_captions",
    "caption",
    "in_grammar",
    "is_held_out",
    "matches",
    "paraphrase",
    "parse_audio_text",
    "parse_image_text",
    "parse_text",
    "render",
    "render_audio",
    "render_image",
    "sample_scenes",
]


def render(scene: ImageScene | AudioScene, rng: np.random.Generator) -> np.ndarray | tuple[np.ndarray, int]:
    """`scene` as the item `space.embed(modality, items)` takes: a picture for an ImageScene, a
    (waveform, SAMPLE_RATE) pair for an AudioScene. Draws from `rng` exactly as `render_image` /
    `render_audio` do, so rendering scenes one by one in order keeps their outputs unchanged."""
    if isinstance(scene, ImageScene):
        return render_image(scene, rng)
    if isinstance(scene, AudioScene):
        return render_audio(scene, rng), SAMPLE_RATE
    raise TypeError(f"not a world scene: {scene!r}")
