"""What a corpus (the bank's texts) says about word order, and the words every edit rule reads: the corpus's
word pairs, triples and contexts (`CorpusGrammar`; `grammar_for` finds a corpus's), its joins and function words,
and texts as words. `grammar_files` writes the same tables as files and opens them memory-mapped (`MappedGrammar`)."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Collection, Container, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Self

from ..errors import GeneratorError

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|[0-9]+|[,;]")
# Words where one phrase ends and the next begins.
JOINS = frozenset("and with while , ; on in at under over near by from behind beside above below".split())
PUNCTUATION = frozenset(",;")
FUNCTION_WORDS = JOINS | frozenset(
    "a an the of to for into onto is are was were be been it its this that these those there their his her "
    "or but as than then so not no".split()
)
# Joins that link two phrases of the same kind, whatever stands on either side (prepositions do not:
# "from in a" is new English, "rumbling and high-pitched" is not).
COORDINATORS = frozenset("and while , ;".split())
# The grammar's glue: function words that are not joins. A scorer barely tells "an yellow" or "on a right"
# from the real thing, so they must keep the company they kept ("the" after "on" before "left"); joins
# link phrases, so "rumbling and high-pitched" may be new when both pairs were seen.
_GLUE = FUNCTION_WORDS - JOINS
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
    shared_contexts, shared_share: how alike two words must be to stand in for each other (`alike`).

    Built here from the texts, as sets and dicts; a `MappedGrammar` (grammar_files) is one opened from the files
    `write_grammar` wrote, its tables views over memory-mapped arrays. The rules read the tables below and ask
    the questions here (`seen`, `novel`, `alike`, ...), which both forms answer alike."""

    # The tables, as the rules read them; every text is padded with <s> and </s>.
    pairs: Container[tuple[str, str]]  # word pairs seen side by side
    contexts: Mapping[str, AbstractSet[tuple[str, str]]]  # word -> the (left, right) words it stood between
    fillers: Mapping[tuple[str, str], Collection[str]]  # (left, right) -> the words seen between them
    triples: Mapping[tuple[str, str, str], int]  # (left, word, right) -> how often; 0 for one never seen
    most: Mapping[str, int]  # the most times each word occurs in one text; 0 for one never seen
    words: list[str]  # the corpus's words, in the order they first occur

    def __init__(self, texts: Sequence[str], *, shared_contexts: int = SHARED_CONTEXTS, shared_share: float = SHARED_SHARE):
        self.shared_contexts, self.shared_share = shared_contexts, shared_share
        self.texts = texts
        pairs: set[tuple[str, str]] = set()
        contexts: dict[str, set[tuple[str, str]]] = {}
        fillers: dict[tuple[str, str], set[str]] = {}
        triples: Counter[tuple[str, str, str]] = Counter()
        most: Counter[str] = Counter()
        for text in texts:
            words = words_of(text)
            for word, count in Counter(words).items():  # not `most |= Counter(...)`: that walks all of `most` per text
                if count > most[word]:
                    most[word] = count
            words = ["<s>", *words, "</s>"]
            pairs.update(zip(words, words[1:], strict=False))
            for left, word, right in zip(words, words[1:], words[2:], strict=False):
                triples[left, word, right] += 1
                contexts.setdefault(word, set()).add((left, right))
                fillers.setdefault((left, right), set()).add(word)
        self.pairs, self.contexts, self.fillers, self.triples, self.most = pairs, contexts, fillers, triples, most
        self.words = list(contexts)
        self._alike: dict[tuple[str, str], bool] = {}

    @functools.cached_property
    def phrases(self) -> Container[tuple[str, ...]]:
        """Every phrase of the corpus's texts (`phrases_of`): what a phrase edit may put in (read by `refusal` only)."""
        return {phrase for text in self.texts for phrase in phrases_of(words_of(text))}

    def alike_at(self, shared_contexts: int, shared_share: float) -> Self:
        """This grammar with these thresholds for `alike`: itself where they are its own, else a copy that shares
        its tables (a bank's grammar serves generators with any settings)."""
        if (shared_contexts, shared_share) == (self.shared_contexts, self.shared_share):
            return self
        twin = type(self).__new__(type(self))  # a shallow copy, by hand: a MappedGrammar's __reduce__ reopens its files
        twin.__dict__.update(self.__dict__)
        twin.shared_contexts, twin.shared_share, twin._alike = shared_contexts, shared_share, {}
        return twin

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
        return sum(map(self._loose, windows_of(words)))

    def _loose(self, triple: tuple[str, str, str]) -> bool:
        left, word, right = triple
        return word in _GLUE and not self.stood(word, left, right)

    def novel(self, words: Sequence[str]) -> int:
        """How many of the text's word triples the corpus never holds, even with a word alike the middle one
        ("small blue triangle" is held as "small red triangle"), but for those around a coordinator:
        "and" links two phrases, so "thunder rumbling and low-pitched birds" may be new where each
        phrase and each pair around "and" was seen."""
        return sum(map(self._novel, windows_of(words)))

    def _novel(self, triple: tuple[str, str, str]) -> bool:
        left, word, right = triple
        return (
            word not in COORDINATORS
            and not self.stood(word, left, right)
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
        return min((self.attested(*triple) for triple in triples if triple[1] not in COORDINATORS), default=float("inf"))

    def alike(self, first: str, second: str) -> bool:
        """Whether two words stand in enough of the same contexts to stand in for each other: at least
        `shared_contexts`, and at least `shared_share` of the contexts of the rarer one (an overlap
        coefficient). "loud" and "low-pitched" share "a _ clock" and "a _ bell", but few of the
        contexts either has: two adjectives in a row, not one adjective in place of another."""
        key = (first, second) if first <= second else (second, first)
        if key not in self._alike:
            shared, fewest = self._overlap(first, second)
            self._alike[key] = shared >= self.shared_contexts and shared >= self.shared_share * fewest
        return self._alike[key]

    def _overlap(self, first: str, second: str) -> tuple[int, int]:
        """How many contexts the two words share, and how many the one with fewer has."""
        mine, theirs = self.contexts.get(first, set()), self.contexts.get(second, set())
        return len(mine & theirs), min(len(mine), len(theirs))


def grammar_for(corpus: Sequence[str], *, shared_contexts: int = SHARED_CONTEXTS, shared_share: float = SHARED_SHARE) -> CorpusGrammar:
    """The corpus's grammar: the one it carries (`corpus.grammar`, a CorpusGrammar: a bank's texts carry the
    grammar opened from the bank's grammar files, so no process builds it), else one built from its texts."""
    carried = getattr(corpus, "grammar", None)
    if carried is None:
        return CorpusGrammar(corpus, shared_contexts=shared_contexts, shared_share=shared_share)
    if not isinstance(carried, CorpusGrammar):
        raise GeneratorError(
            f"the corpus carries a grammar of type {type(carried).__name__}, not a CorpusGrammar: give its texts "
            "a grammar opened with unembed.corpus.MappedGrammar(folder), or none."
        )
    return carried.alike_at(shared_contexts, shared_share)


def phrases_of(words: Sequence[str]) -> list[tuple[str, ...]]:
    """Maximal runs that start at a join (or the start) and end before the next join."""
    starts = [0] + [i for i, word in enumerate(words) if i > 0 and word in JOINS]
    ends = starts[1:] + [len(words)]
    return [tuple(words[start:end]) for start, end in zip(starts, ends, strict=True) if end > start]


def windows_of(words: Sequence[str]):
    """The text's word triples (left, word, right), with <s> and </s> at its ends."""
    padded = ["<s>", *words, "</s>"]
    return zip(padded, padded[1:], padded[2:], strict=False)
