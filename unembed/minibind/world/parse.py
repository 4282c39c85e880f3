"""The world's parser: free text (synonyms, any word order, the padding an LLM adds) back into a scene."""

from __future__ import annotations

import itertools
import re
from typing import Any

from .scenes import HAS_PITCH, HAS_TEMPO, SOUNDS, AudioScene, ImageScene, ShapeObject, SoundEvent
from .vocabulary import _COLOUR_WORDS, _LOUDNESS_WORDS, _PITCH_WORDS, _SHAPE_WORDS, _SIZE_WORDS, _SOUND_NOUNS, _TEMPO_WORDS


def _lexicon(table: dict[str, list[str]], extra: dict[str, list[str]] | None = None) -> dict[str, str]:
    lexicon = {}
    for value, phrases in itertools.chain(table.items(), (extra or {}).items()):
        for phrase in phrases:
            lexicon[phrase.removeprefix("a ").removeprefix("an ")] = value
    return lexicon


_IMAGE_LEXICON = {
    "shape": _lexicon(
        _SHAPE_WORDS,
        {
            "circle": ["circles", "circular shape", "round", "ball", "disk", "ring", "oval"],
            "square": ["squares", "rectangle", "cube", "boxes", "squared shape"],
            "triangle": ["triangles", "triangular", "pyramid"],
            "star": ["stars", "starfish", "pentagram"],
            "heart": ["hearts", "heart-shaped"],
            "cross": ["crosses", "plus", "x shape"],
        },
    ),
    "colour": _lexicon(
        _COLOUR_WORDS,
        {
            "red": ["crimson", "scarlet"],
            "orange": ["amber"],
            "yellow": ["golden yellow", "lemon"],
            "green": ["lime", "emerald"],
            "blue": ["navy", "azure"],
            "purple": ["magenta", "lilac", "lavender"],
            "pink": ["rose", "magenta-pink"],
            "brown": ["tan", "chocolate", "bronze"],
        },
    ),
    "size": _lexicon(_SIZE_WORDS, {"small": ["smaller", "mini", "miniature"], "large": ["larger", "giant", "enormous", "massive"]}),
    "position": {
        "left": "left",
        "left-hand": "left",
        "leftmost": "left",
        "right": "right",
        "right-hand": "right",
        "rightmost": "right",
        "centre": "centre",
        "center": "centre",
        "middle": "centre",
        "centered": "centre",
        "centred": "centre",
        "central": "centre",
    },
    "element": _lexicon(
        {
            "rain": ["rain", "raining", "rainy", "raindrops", "rainfall", "drizzle", "downpour"],
            "lightning": ["lightning", "thunderstorm", "storm", "thunder", "lightning bolt"],
            "birds": ["birds", "bird", "flock"],
            "bell": ["bell", "bells"],
            "car": ["car", "cars", "vehicle", "automobile", "engine"],
        }
    ),
}
_AUDIO_LEXICON = {
    "kind": _lexicon(
        _SOUND_NOUNS,
        {
            "rain": ["raining", "rainy", "raindrops", "drizzle", "downpour", "rainstorm", "showers"],
            "thunder": ["thunderclap", "thunderstorm", "storm", "lightning", "rumble of thunder"],
            "wind": ["wind", "windy", "breeze", "gust", "gusts", "howling wind", "whoosh"],
            "birds": ["bird", "birdsong", "songbird", "chirp", "chirps", "tweeting", "chirping birds"],
            "bell": ["bells", "chimes", "chiming", "church bell", "gong"],
            "engine": ["engines", "motor", "car", "truck", "vehicle", "motorcycle", "idling engine"],
            "clock": ["clocks", "ticking", "tick", "tick-tock", "metronome", "ticking clock"],
        },
    ),
    "loudness": _lexicon(
        _LOUDNESS_WORDS,
        {
            "quiet": ["quietly", "softly", "distant", "muted", "light", "low-volume", "faintly"],
            "loud": ["loudly", "heavy", "intense", "thunderous", "deafening", "blaring", "noisy"],
        },
    ),
    "pitch": _lexicon(
        _PITCH_WORDS,
        {"low": ["bass", "low-frequency", "deep-toned", "rumbling low"], "high": ["high-frequency", "treble", "piercing", "tinkling"]},
    ),
    "tempo": _lexicon(
        _TEMPO_WORDS, {"slow": ["slow", "slowly-paced", "leisurely"], "fast": ["rapid", "quick", "rapidly-paced", "hurried", "speedy"]}
    ),
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
        clause_heads: list[dict[str, Any]] = [{head: value, "_offset": offset} for offset, value in head_hits]
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
        same = [
            m
            for m in merged
            if m["shape"] == mention["shape"] and m.get("colour", mention.get("colour")) == mention.get("colour", m.get("colour"))
        ]
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
            events.append(
                SoundEvent(
                    kind,
                    m.get("loudness") if len(by_kind) == 1 else None,
                    m.get("pitch") if kind in HAS_PITCH else None,
                    m.get("tempo") if kind in HAS_TEMPO else None,
                )
            )
    return AudioScene(tuple(events))


def parse_text(text: str, modality: str) -> ImageScene | AudioScene:
    return parse_image_text(text) if modality == "image" else parse_audio_text(text)


def matches(parsed: ImageScene | AudioScene, truth: ImageScene | AudioScene) -> bool:
    """Does the parsed text get every ground-truth attribute right (and name nothing extra)?"""
    return parsed == truth
