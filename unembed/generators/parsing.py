"""Read candidate texts out of an LLM's numbered list, whatever else the model wrote around it."""

from __future__ import annotations

import re

from ..secrets import redact

# A counter, possibly decorated the way small models write it: "1.", "1)", "# 10.", "**3.**", "(4)".
_COUNTER = re.compile(r"^[\s#*>\-•]*\(?\d{1,3}\s*[.):\]]+\**\s+(?P<text>.*)$")
# An echoed "0.912: text" score prefix (the prompt shows candidates that way).
_SCORE_PREFIX = re.compile(r"^[-+]?\d*\.\d+\s*[:\-–]\s*")
# Chat-template tokens that leak into raw completions.
_SPECIAL = re.compile(r"<\|[^|>]*\|>|</?s>|<pad>|<eos>|<bos>")
_TRAILING_NOTE = re.compile(r"\s*[(\[][^()\[\]]*[)\]]?\s*$")  # "(score: 0.9)", "(7 words)"
_QUOTES = "\"'`“”‘’*_"
# Words a text cannot end on: a line cut off by the length cap ("a swimming cap with a") ends on one.
_DANGLING = frozenset(
    "a an the of with in on at and or but that which who is are was were to for by from its their his her "
    "this these as into onto near while".split()
)


# Terminal escapes (ANSI CSI/OSC sequences) and other control characters: no caption holds them, and a server may
# send them to clear or retitle the terminal of whoever reads the answers.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x1f\x7f-\x9f]")


def plain_text(text: str) -> str:
    """`text` without terminal escapes, control characters or anything shaped like a secret (unembed.secrets), spaces
    collapsed: what the loop lets in from any generator (an LLM may echo a key; a decoder may write control bytes)."""
    return " ".join(redact(_CONTROL.sub(" ", text)).split())


def clean_candidate(text: str) -> str:
    """One candidate line without markup, control characters, echoed score, trailing note or surrounding quotes."""
    text = _CONTROL.sub(" ", _SPECIAL.sub(" ", text))
    text = " ".join(text.split())
    text = _SCORE_PREFIX.sub("", text)
    text = _TRAILING_NOTE.sub("", text) if "(" in text or "[" in text else text
    words = text.strip().strip(_QUOTES).split()
    # Cut-off tails: "...", trailing commas, and function words left dangling by the length cap.
    while words and (words[-1].lower().strip(".,;:-–…") in _DANGLING or not words[-1].strip(".,;:-–…")):
        words.pop()
    return " ".join(words).rstrip(",;:-–… ").rstrip(".").strip(_QUOTES).strip()


def candidate_key(text: str) -> str:
    """Texts equal under this key are duplicates: case, spacing and final punctuation ignored."""
    return " ".join(text.casefold().split()).rstrip(" .!?;:,")


def parse_numbered_lines(answer: str, *, max_words: int | None = None, limit: int | None = None) -> list[str]:
    """The texts of `answer`'s numbered lines ("1. a dog on a beach"), cleaned, unique, in order.

    Lines without a counter are preambles or chatter and are skipped, as MILS does. A text with
    no letter, or with more than twice `max_words` words (the model rambled), is dropped. At most
    `limit` texts are returned: the lines asked for, not the 3,000 a looping model may write.
    """
    texts: list[str] = []
    seen: set[str] = set()
    for line in _SPECIAL.sub("\n", answer).splitlines():
        match = _COUNTER.match(line)
        if not match:
            continue
        text = clean_candidate(match.group("text"))
        key = candidate_key(text)
        if not key or not any(character.isalpha() for character in key) or key in seen:
            continue
        if max_words is not None and len(text.split()) > 2 * max_words:
            continue
        seen.add(key)
        texts.append(text)
        if limit is not None and len(texts) >= limit:
            break
    return texts
