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
each of two events asks the audio encoder for a distinction the text space hardly holds. The parser likewise ignores loudness words when it finds two or more sounds.

Every scene has one canonical caption (`caption(scene)`) and many paraphrases (`paraphrase(scene,
rng)`); `parse_image_text` / `parse_audio_text` read free text (synonyms, any word order, the
padding an LLM adds) back into a scene, so inverted text can be scored attribute by attribute.
Some attribute combinations are held out of training (`is_held_out`) to measure generalisation.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 64
SAMPLE_RATE = 16000
CLIP_SECONDS = 2.0
CLIP_SAMPLES = int(SAMPLE_RATE * CLIP_SECONDS)

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
HELD_OUT_SOUND_ATTRIBUTES = frozenset({("bell", "high", "fast"), ("birds", "low", "slow"), ("clock", "loud", "fast"), ("engine", "high", "quiet")})
HELD_OUT_SOUND_PAIRS = frozenset({frozenset({"rain", "bell"}), frozenset({"thunder", "birds"}), frozenset({"wind", "clock"})})


# ----------------------------------------------------------------------------------------- scenes
@dataclass(frozen=True)
class ShapeObject:
    shape: str
    colour: str
    position: str
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


# --------------------------------------------------------------------------------------- captions
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
            return f"{_object_paraphrase(left, rng, with_position=False)} to the left of {_object_paraphrase(right, rng, with_position=False)}"
        parts = [_object_paraphrase(left, rng), _object_paraphrase(right, rng)]
        if rng.random() < 0.5:
            parts.reverse()
        return _pick(rng, ["{0} and {1}", "{0}, {1}", "two shapes: {0} and {1}"]).format(*parts)
    text = _object_paraphrase(scene.objects[0], rng)
    if scene.element:
        element = _pick(rng, _ELEMENT_WORDS[scene.element])
        text = f"{text}, {element}" if rng.random() < 0.5 else f"{element}, {text}"
    return _pick(rng, ["{0}", "an image of {0}", "a picture showing {0}", "{0} on a plain background"]).format(text)


# ----------------------------------------------------------------------------------------- parser
def _lexicon(table: dict[str, list[str]], extra: dict[str, list[str]] | None = None) -> dict[str, str]:
    lexicon = {}
    for value, phrases in itertools.chain(table.items(), (extra or {}).items()):
        for phrase in phrases:
            lexicon[phrase.removeprefix("a ").removeprefix("an ")] = value
    return lexicon


_IMAGE_LEXICON = {
    "shape": _lexicon(_SHAPE_WORDS, {
        "circle": ["circles", "circular shape", "round", "ball", "disk", "ring", "oval"],
        "square": ["squares", "rectangle", "cube", "boxes", "squared shape"],
        "triangle": ["triangles", "triangular", "pyramid"],
        "star": ["stars", "starfish", "pentagram"],
        "heart": ["hearts", "heart-shaped"],
        "cross": ["crosses", "plus", "x shape"],
    }),
    "colour": _lexicon(_COLOUR_WORDS, {
        "red": ["crimson", "scarlet"], "orange": ["amber"], "yellow": ["golden yellow", "lemon"],
        "green": ["lime", "emerald"], "blue": ["navy", "azure"], "purple": ["magenta", "lilac", "lavender"],
        "pink": ["rose", "magenta-pink"], "brown": ["tan", "chocolate", "bronze"],
    }),
    "size": _lexicon(_SIZE_WORDS, {"small": ["smaller", "mini", "miniature"], "large": ["larger", "giant", "enormous", "massive"]}),
    "position": {
        "left": "left", "left-hand": "left", "leftmost": "left",
        "right": "right", "right-hand": "right", "rightmost": "right",
        "centre": "centre", "center": "centre", "middle": "centre", "centered": "centre", "centred": "centre", "central": "centre",
    },
    "element": _lexicon({
        "rain": ["rain", "raining", "rainy", "raindrops", "rainfall", "drizzle", "downpour"],
        "lightning": ["lightning", "thunderstorm", "storm", "thunder", "lightning bolt"],
        "birds": ["birds", "bird", "flock"],
        "bell": ["bell", "bells"],
        "car": ["car", "cars", "vehicle", "automobile", "engine"],
    }),
}
_AUDIO_LEXICON = {
    "kind": _lexicon(_SOUND_NOUNS, {
        "rain": ["raining", "rainy", "raindrops", "drizzle", "downpour", "rainstorm", "showers"],
        "thunder": ["thunderclap", "thunderstorm", "storm", "lightning", "rumble of thunder"],
        "wind": ["wind", "windy", "breeze", "gust", "gusts", "howling wind", "whoosh"],
        "birds": ["bird", "birdsong", "songbird", "chirp", "chirps", "tweeting", "chirping birds"],
        "bell": ["bells", "chimes", "chiming", "church bell", "gong"],
        "engine": ["engines", "motor", "car", "truck", "vehicle", "motorcycle", "idling engine"],
        "clock": ["clocks", "ticking", "tick", "tick-tock", "metronome", "ticking clock"],
    }),
    "loudness": _lexicon(_LOUDNESS_WORDS, {
        "quiet": ["quietly", "softly", "distant", "muted", "light", "low-volume", "faintly"],
        "loud": ["loudly", "heavy", "intense", "thunderous", "deafening", "blaring", "noisy"],
    }),
    "pitch": _lexicon(_PITCH_WORDS, {"low": ["bass", "low-frequency", "deep-toned", "rumbling low"], "high": ["high-frequency", "treble", "piercing", "tinkling"]}),
    "tempo": _lexicon(_TEMPO_WORDS, {"slow": ["slow", "slowly-paced", "leisurely"], "fast": ["rapid", "quick", "rapidly-paced", "hurried", "speedy"]}),
}
# Words that start a new clause: attributes attach to the object or event named in their clause.
_CLAUSE_BREAK = re.compile(r"[,;.:!?()]|\b(?:and|with|while|but|as well as|whereas|next to|beside|besides|together with)\b")


def _normalise_text(text: str) -> str:
    text = text.lower().replace("colour", "color").replace("\n", " ")
    return re.sub(r"[\"'`*_#]", " ", text)


def _find(lexicon: dict[str, str], clause: str) -> list[tuple[int, str]]:
    """(character offset, value) of lexicon phrases in `clause`, longest match first, no overlaps."""
    found: list[tuple[int, int, str]] = []
    for phrase in sorted(lexicon, key=len, reverse=True):
        for match in re.finditer(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", clause):
            if all(match.end() <= start or match.start() >= end for start, end, _ in found):
                found.append((match.start(), match.end(), lexicon[phrase]))
    return sorted((start, value) for start, _, value in found)


def _negated(clause: str, offset: int) -> bool:
    return bool(re.search(r"\b(?:no|not|without|never|absent)\b[\w\s-]{0,12}$", clause[:offset]))


def _clauses(text: str) -> list[str]:
    return [part for part in _CLAUSE_BREAK.split(text) if part and part.strip()]


def _assign(text: str, head: str, lexicon: dict[str, dict[str, str]]) -> tuple[list[dict], set[str]]:
    """Heads (shapes or sound kinds) with the attributes of their clauses; also free-standing tags.

    An attribute in a clause with one head belongs to it; in a clause with several heads it belongs
    to the nearest head after it (else before it); in a clause with none, to the last head seen
    (or to the next head, before any head has appeared). Relations "X to the left of Y" set positions.
    """
    heads: list[dict] = []
    pending: dict = {}
    relations: list[tuple[int, str]] = []
    for clause in _clauses(_normalise_text(text)):
        head_hits = [(offset, value) for offset, value in _find(lexicon[head], clause)]
        clause_heads = [{head: value, "_offset": offset} for offset, value in head_hits]
        for slot, words in lexicon.items():
            if slot == head:
                continue
            for offset, value in _find(words, clause):
                if _negated(clause, offset):
                    continue
                if clause_heads:
                    after = [h for h in clause_heads if h["_offset"] >= offset]
                    before = [h for h in clause_heads if h["_offset"] < offset]
                    if before and re.search(r"\b(?:in|is|are|colou?red)\s+$", clause[:offset]):
                        target = before[-1]  # "a box in brown", "a circle that is small"
                    elif after and slot != "position":
                        target = after[0]
                    else:
                        target = min(clause_heads, key=lambda h: abs(h["_offset"] - offset))
                    target.setdefault(slot, value)
                elif heads:
                    heads[-1].setdefault(slot, value)
                else:
                    pending.setdefault(slot, value)
        if clause_heads and pending:
            for slot, value in pending.items():
                clause_heads[0].setdefault(slot, value)
            pending = {}
        for match in re.finditer(r"\b(?:to|on) the (left|right) of\b", clause):
            relations.append((len(heads) + sum(h["_offset"] < match.start() for h in clause_heads), match.group(1)))
        heads.extend(clause_heads)
    for index, side in relations:  # "X to the left of Y": X (before) is on `side`, Y on the other
        if 0 < index < len(heads) and side in ("left", "right"):
            heads[index - 1]["position"] = side
            heads[index]["position"] = "right" if side == "left" else "left"
    for h in heads:
        h.pop("_offset", None)
    return heads, set(pending)


def parse_image_text(text: str) -> ImageScene:
    """Read free text into an ImageScene; attributes not named are None (and so never 'right').

    One shape gives a one-object scene; two or more give a two-object scene from the first two,
    placed left/right as the text says (else in order of mention). Repeated mentions of the same
    shape and colour ("a red circle ... the circle is small") are merged.
    """
    mentions, _ = _assign(text, "shape", {k: v for k, v in _IMAGE_LEXICON.items() if k != "element"})
    merged: list[dict] = []
    for mention in mentions:
        same = [m for m in merged if m["shape"] == mention["shape"] and m.get("colour", mention.get("colour")) == mention.get("colour", m.get("colour"))]
        if same:
            for slot, value in mention.items():
                same[0].setdefault(slot, value)
        else:
            merged.append(mention)
    element_hits = [v for o, v in _find(_IMAGE_LEXICON["element"], _normalise_text(text)) if not _negated(_normalise_text(text), o)]
    element = element_hits[0] if element_hits else None
    if len(merged) >= 2:
        left, right = merged[:2]
        if left.get("position") == "right" or right.get("position") == "left":
            left, right = right, left
        objects = (
            ShapeObject(left["shape"], left.get("colour"), "left"),
            ShapeObject(right["shape"], right.get("colour"), "right"),
        )
        return ImageScene(objects, element)
    if merged:
        m = merged[0]
        return ImageScene((ShapeObject(m["shape"], m.get("colour"), m.get("position"), m.get("size")),), element)
    return ImageScene((), element)


def parse_audio_text(text: str) -> AudioScene:
    """Read free text into an AudioScene: each named sound with its loudness/pitch/tempo.

    Attributes that do not apply to a sound (the pitch of rain) are dropped, and so is loudness
    when two or more sounds are named (two-event scenes do not name it); a sound named twice
    keeps the attributes of both mentions.
    """
    mentions, _ = _assign(text, "kind", _AUDIO_LEXICON)
    by_kind: dict[str, dict] = {}
    for mention in mentions:
        by_kind.setdefault(mention["kind"], {}).update({k: v for k, v in mention.items() if k not in by_kind.get(mention["kind"], {})})
    events = []
    for kind in SOUNDS:
        if kind in by_kind:
            m = by_kind[kind]
            events.append(SoundEvent(
                kind,
                m.get("loudness") if len(by_kind) == 1 else None,
                m.get("pitch") if kind in HAS_PITCH else None,
                m.get("tempo") if kind in HAS_TEMPO else None,
            ))
    return AudioScene(tuple(events))


def parse_text(text: str, modality: str) -> ImageScene | AudioScene:
    return parse_image_text(text) if modality == "image" else parse_audio_text(text)


def matches(parsed: ImageScene | AudioScene, truth: ImageScene | AudioScene) -> bool:
    """Does the parsed text get every ground-truth attribute right (and name nothing extra)?"""
    return parsed == truth


# -------------------------------------------------------------------------------------- rendering
def _shape_polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "square":
        h = r * 0.85
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r * 0.95, cy + r * 0.75), (cx - r * 0.95, cy + r * 0.75)]
    if shape == "star":
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r * 1.1, r * 0.45)
        return list(zip(cx + radii * np.cos(angles), cy - radii * np.sin(angles)))
    if shape == "heart":
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
        return list(zip(cx + x * r / 16, cy - (y + 2) * r / 16))
    if shape == "cross":
        a, b = r, r * 0.33
        return [(cx - b, cy - a), (cx + b, cy - a), (cx + b, cy - b), (cx + a, cy - b), (cx + a, cy + b), (cx + b, cy + b),
                (cx + b, cy + a), (cx - b, cy + a), (cx - b, cy + b), (cx - a, cy + b), (cx - a, cy - b), (cx - b, cy - b)]
    raise ValueError(f"unknown shape {shape!r}")


def _jitter_colour(rgb: tuple[int, int, int], rng: np.random.Generator, amount: int = 14) -> tuple[int, ...]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)


_OBJECT_X = {"left": 16, "centre": 32, "right": 48}
_RADIUS = {"small": (5.0, 7.0), "large": (11.0, 13.0), None: (8.0, 9.5)}


def render_image(scene: ImageScene, rng: np.random.Generator) -> np.ndarray:
    """(64, 64, 3) uint8 picture of `scene`; `rng` varies placement, size, tint and noise."""
    scale = 3  # draw large, then downsample: anti-aliased edges
    side = IMAGE_SIZE * scale
    base = (70, 72, 92) if scene.element == "lightning" else (196, 198, 190)
    image = Image.new("RGB", (side, side), _jitter_colour(base, rng, 18))
    draw = ImageDraw.Draw(image)

    def s(values):
        return [(x * scale, y * scale) for x, y in values]

    if scene.element == "lightning":
        x = rng.uniform(10, 54)
        points = [(x, 0)]
        for y in (4, 8, 12, 16):
            x += rng.uniform(-5, 5)
            points.append((x, y))
        draw.line(s(points), fill=_jitter_colour((255, 240, 120), rng), width=2 * scale)
    elif scene.element == "birds":
        for _ in range(rng.integers(3, 6)):
            x, y = rng.uniform(6, 58), rng.uniform(3, 13)
            draw.line(s([(x - 3, y - 2), (x, y), (x + 3, y - 2)]), fill=(30, 30, 30), width=scale)
    elif scene.element == "bell":
        x, y = rng.uniform(14, 50), rng.uniform(2, 4)
        draw.polygon(s([(x - 2, y), (x + 2, y), (x + 5, y + 9), (x - 5, y + 9)]), fill=_jitter_colour((212, 170, 40), rng))
        draw.ellipse(s([(x - 1.3, y + 8.5), (x + 1.3, y + 11.5)]), fill=(90, 70, 20))
    elif scene.element == "car":
        x = rng.uniform(4, 40)
        body = _jitter_colour((60, 62, 74), rng)
        draw.rectangle(s([(x, 54), (x + 20, 59)]), fill=body)
        draw.rectangle(s([(x + 4, 50), (x + 14, 54)]), fill=body)
        for wx in (x + 4, x + 16):
            draw.ellipse(s([(wx - 2.2, 57.5), (wx + 2.2, 62)]), fill=(15, 15, 15))

    for obj in scene.objects:
        low, high = _RADIUS[obj.size]
        r = rng.uniform(low, high)
        cx = _OBJECT_X[obj.position] + rng.uniform(-3, 3)
        cy = 33 + rng.uniform(-3, 3)
        fill = _jitter_colour(COLOURS[obj.colour], rng)
        if obj.shape == "circle":
            draw.ellipse(s([(cx - r, cy - r), (cx + r, cy + r)]), fill=fill)
        else:
            draw.polygon(s(_shape_polygon(obj.shape, cx, cy, r)), fill=fill)

    if scene.element == "rain":
        drop = _jitter_colour((120, 140, 200), rng)
        for _ in range(rng.integers(40, 70)):
            x, y = rng.uniform(0, 64), rng.uniform(0, 64)
            draw.line(s([(x, y), (x - 1.5, y + 4)]), fill=drop, width=scale // 2 + 1)

    small = np.asarray(image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX), dtype=np.float32)
    small += rng.normal(0, 4, size=small.shape)
    return np.clip(small, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------ sound
_GAIN = {"quiet": 0.025, "loud": 0.16, None: 0.063}  # RMS: quiet and loud 16 dB apart; unnamed midway


def _decay(length: int, tau_seconds: float) -> np.ndarray:
    return np.exp(-np.arange(length) / (tau_seconds * SAMPLE_RATE))


def _bandpass(signal: np.ndarray, low: float, high: float) -> np.ndarray:
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(len(signal), 1 / SAMPLE_RATE)
    spectrum[(freqs < low) | (freqs > high)] = 0
    return np.fft.irfft(spectrum, n=len(signal))


def _add_at(out: np.ndarray, start: int, grain: np.ndarray) -> None:
    end = min(len(out), start + len(grain))
    if start < end:
        out[start:end] += grain[: end - start]


def _onsets(tempo: str, rng: np.random.Generator, slow: float, fast: float) -> np.ndarray:
    period = (slow if tempo == "slow" else fast) * rng.uniform(0.85, 1.15)
    times = np.arange(rng.uniform(0, period), CLIP_SECONDS, period)
    return (times + rng.normal(0, period * 0.05, size=len(times))).clip(0, CLIP_SECONDS)


def _synth_event(event: SoundEvent, rng: np.random.Generator) -> np.ndarray:
    n = CLIP_SAMPLES
    t = np.arange(n) / SAMPLE_RATE
    out = np.zeros(n)
    if event.kind == "rain":
        out = _bandpass(rng.normal(size=n), 1500, 7500) * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t))
        for start in rng.integers(0, n, size=int(rng.uniform(40, 80) * CLIP_SECONDS)):
            length = int(0.004 * SAMPLE_RATE)
            _add_at(out, start, 3 * np.sin(2 * np.pi * rng.uniform(2500, 5000) * np.arange(length) / SAMPLE_RATE) * _decay(length, 0.001))
    elif event.kind == "thunder":
        start = int(rng.uniform(0.05, 0.6) * SAMPLE_RATE)
        rumble = _bandpass(rng.normal(size=n), 25, 300)
        envelope = np.zeros(n)
        envelope[start:] = _decay(n - start, rng.uniform(0.4, 0.8)) * (1 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 5) * t[: n - start]))
        crack = np.zeros(n)
        _add_at(crack, start, _bandpass(rng.normal(size=n), 300, 4000)[: int(0.08 * SAMPLE_RATE)] * _decay(int(0.08 * SAMPLE_RATE), 0.02))
        out = rumble * envelope + crack * 0.6
    elif event.kind == "wind":
        centre = rng.uniform(350, 700)
        gusts = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.3, 0.9) * t + rng.uniform(0, 6.3))
        out = _bandpass(rng.normal(size=n), centre * 0.6, centre * 1.6) * gusts
    elif event.kind == "birds":
        base = rng.uniform(1600, 2300) if event.pitch == "low" else rng.uniform(4000, 5200)
        for onset in _onsets(event.tempo, rng, 0.45, 0.13):
            length = int(rng.uniform(0.05, 0.09) * SAMPLE_RATE)
            tt = np.arange(length) / SAMPLE_RATE
            freq = base * (1 + rng.uniform(0.15, 0.35) * tt / tt[-1])
            phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
            _add_at(out, int(onset * SAMPLE_RATE), np.sin(phase) * np.hanning(length))
    elif event.kind == "bell":
        f0 = rng.uniform(330, 450) if event.pitch == "low" else rng.uniform(1000, 1300)
        length = int(0.9 * SAMPLE_RATE)
        tt = np.arange(length) / SAMPLE_RATE
        partials = [(1.0, 1.0, 0.5), (2.0, 0.6, 0.35), (2.76, 0.4, 0.25), (5.4, 0.25, 0.12)]
        strike = sum(a * np.sin(2 * np.pi * f0 * ratio * tt) * _decay(length, tau) for ratio, a, tau in partials if f0 * ratio < 7800)
        for onset in _onsets(event.tempo, rng, 0.7, 0.2):
            _add_at(out, int(onset * SAMPLE_RATE), strike)
    elif event.kind == "engine":
        f0 = (rng.uniform(35, 55) if event.pitch == "low" else rng.uniform(150, 210)) * (1 + 0.03 * np.sin(2 * np.pi * 0.7 * t))
        phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
        out = sum(np.sin(k * phase) / k for k in range(1, 40) if k * f0.max() < 3000)
        out = out * (1 + 0.3 * np.sin(phase / 2)) + 0.2 * _bandpass(rng.normal(size=n), 80, 1200)
    elif event.kind == "clock":
        length = int(0.012 * SAMPLE_RATE)
        for index, onset in enumerate(_onsets(event.tempo, rng, 0.5, 0.16)):
            pitch = 2800 if index % 2 == 0 else 2200
            click = np.sin(2 * np.pi * pitch * np.arange(length) / SAMPLE_RATE) * _decay(length, 0.002)
            _add_at(out, int(onset * SAMPLE_RATE), click)
    else:
        raise ValueError(f"unknown sound {event.kind!r}")
    rms = np.sqrt(np.mean(out**2)) or 1.0
    gain = _GAIN[event.loudness] * 10 ** (rng.uniform(-2, 2) / 20)
    return out / rms * gain


def render_audio(scene: AudioScene, rng: np.random.Generator) -> np.ndarray:
    """(32000,) float32 waveform of `scene` at 16 kHz: its events mixed over a faint noise floor."""
    mix = rng.normal(0, 0.001, size=CLIP_SAMPLES)
    for event in scene.events:
        mix = mix + _synth_event(event, rng)
    return np.clip(mix, -1, 1).astype(np.float32)
