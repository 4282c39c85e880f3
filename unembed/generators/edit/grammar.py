"""What a corpus (the bank's texts) says about word order, and the words every edit rule reads: the corpus's
word pairs, triples and contexts (`CorpusGrammar`), its joins and function words, and texts as words."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|[0-9]+|[,;]")
# Words where one phrase ends and the next begins.
_JOINS = frozenset("and with while , ; on in at under over near by from behind beside above below".split())
_PUNCTUATION = frozenset(",;")
_FUNCTION_WORDS = _JOINS | frozenset(
    "a an the of to for into onto is are was were be been it its this that these those there their his her "
    "or but as than then so not no".split()
)
# Joins that link two phrases of the same kind, whatever stands on either side (prepositions do not:
# "from in a" is new English, "rumbling and high-pitched" is not).
_COORDINATORS = frozenset("and while , ;".split())
# The grammar's glue: function words that are not joins. A scorer barely tells "an yellow" or "on a right"
# from the real thing, so they must keep the company they kept ("the" after "on" before "left"); joins
# link phrases, so "rumbling and high-pitched" may be new when both pairs were seen.
_GLUE = _FUNCTION_WORDS - _JOINS
# Two content words stand in for each other when they share at least this many contexts and this share of the
# rarer one's: one shared context lets "right" stand in for "color" through a single stray caption, and "loud"
# and "low-pitched" share "a _ clock" and "a _ bell" but few of the contexts either has.
SHARED_CONTEXTS = 2
SHARED_SHARE = 0.25


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def join_words(words: Sequence[str]) -> str:
    """The words as text, with "a"/"an" agreeing with the word after them (edits move words around articles)."""
    fixed = [
        ("an" if following[:1] in "aeiou" else "a") if word in ("a", "an") and following else word
        for word, following in zip(words, [*words[1:], ""], strict=True)
    ]
    return re.sub(r" ([,;])", r"\1", " ".join(fixed))


class CorpusGrammar:
    """What a corpus (the bank's texts) says about word order: the word pairs it holds side by side,
    the word triples and how often, and the contexts (left word, right word) each word stands in.
    shared_contexts, shared_share: how alike two words must be to stand in for each other (`alike`)."""

    def __init__(self, texts: Sequence[str], *, shared_contexts: int = SHARED_CONTEXTS, shared_share: float = SHARED_SHARE):
        self.shared_contexts, self.shared_share = shared_contexts, shared_share
        self.texts = texts
        self.pairs: set[tuple[str, str]] = set()
        self.contexts: dict[str, set[tuple[str, str]]] = {}
        self.fillers: dict[tuple[str, str], set[str]] = {}  # the words seen in each context
        self.triples: Counter[tuple[str, str, str]] = Counter()
        self.most: Counter[str] = Counter()  # the most times each word occurs in one text
        for text in texts:
            words = words_of(text)
            for word, count in Counter(words).items():  # not `most |= Counter(...)`: that walks all of `most` per text
                if count > self.most[word]:
                    self.most[word] = count
            words = ["<s>", *words, "</s>"]
            self.pairs.update(zip(words, words[1:], strict=False))
            for left, word, right in zip(words, words[1:], words[2:], strict=False):
                self.triples[left, word, right] += 1
                self.contexts.setdefault(word, set()).add((left, right))
                self.fillers.setdefault((left, right), set()).add(word)
        self.words = list(self.contexts)
        self._alike: dict[tuple[str, str], bool] = {}

    @functools.cached_property
    def phrases(self) -> set[tuple[str, ...]]:
        """Every phrase of the corpus's texts (`_phrases`): what a phrase edit may put in (read by `refusal` only)."""
        return {phrase for text in self.texts for phrase in _phrases(words_of(text))}

    def repeats_as_seen(self, words: Sequence[str]) -> bool:
        """No word more often in the text than in any one corpus text: "on the left in the left" fails
        where no caption names a side twice, "a red star ... a blue star" passes where two stars were seen."""
        return all(count <= max(self.most[word], 1) for word, count in Counter(words).items())

    def seen(self, left: str, right: str) -> bool:
        return (left, right) in self.pairs

    def stood(self, word: str, left: str, right: str) -> bool:
        """Whether the corpus holds `word` between `left` and `right`."""
        return (left, right) in self.contexts.get(word, ())

    def loose_glue(self, words: Sequence[str]) -> int:
        """How many of the text's articles and other non-join function words stand between words they
        never stood between: "in the left" where the corpus says "on the left" and "in the centre"."""
        return sum(map(self._loose, _windows(words)))

    def _loose(self, triple: tuple[str, str, str]) -> bool:
        left, word, right = triple
        return word in _GLUE and (left, right) not in self.contexts.get(word, ())

    def novel(self, words: Sequence[str]) -> int:
        """How many of the text's word triples the corpus never holds, even with a word alike the middle one
        ("small blue triangle" is held as "small red triangle"), but for those around a coordinator:
        "and" links two phrases, so "thunder rumbling and low-pitched birds" may be new where each
        phrase and each pair around "and" was seen."""
        return sum(map(self._novel, _windows(words)))

    def _novel(self, triple: tuple[str, str, str]) -> bool:
        left, word, right = triple
        return (
            word not in _COORDINATORS
            and (left, right) not in self.contexts.get(word, ())
            and not any(self.alike(word, filler) for filler in self.fillers.get((left, right), ()))
        )

    def attested(self, left: str, word: str, right: str) -> int:
        """How often the corpus holds the triple, or the same context with a word alike the middle one."""
        return max(
            [
                self.triples[left, word, right],
                *(self.triples[left, filler, right] for filler in self.fillers.get((left, right), ()) if self.alike(word, filler)),
            ]
        )

    def weakest(self, triples) -> float:
        """How often the corpus holds the least attested of these triples (around a coordinator, any will do)."""
        return min((self.attested(*triple) for triple in triples if triple[1] not in _COORDINATORS), default=float("inf"))

    def alike(self, first: str, second: str) -> bool:
        """Whether two words stand in enough of the same contexts to stand in for each other: at least
        `shared_contexts`, and at least `shared_share` of the contexts of the rarer one (an overlap
        coefficient). "loud" and "low-pitched" share "a _ clock" and "a _ bell", but few of the
        contexts either has: two adjectives in a row, not one adjective in place of another."""
        key = (first, second) if first <= second else (second, first)
        if key not in self._alike:
            mine, theirs = self.contexts.get(first, set()), self.contexts.get(second, set())
            shared = len(mine & theirs)
            self._alike[key] = shared >= self.shared_contexts and shared >= self.shared_share * min(len(mine), len(theirs))
        return self._alike[key]


def _phrases(words: Sequence[str]) -> list[tuple[str, ...]]:
    """Maximal runs that start at a join (or the start) and end before the next join."""
    starts = [0] + [i for i, word in enumerate(words) if i > 0 and word in _JOINS]
    ends = starts[1:] + [len(words)]
    return [tuple(words[start:end]) for start, end in zip(starts, ends, strict=True) if end > start]


def _windows(words: Sequence[str]):
    """The text's word triples (left, word, right), with <s> and </s> at its ends."""
    padded = ["<s>", *words, "</s>"]
    return zip(padded, padded[1:], padded[2:], strict=False)
