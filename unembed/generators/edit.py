"""`edit`: a proposer that sees through the space. It edits the best texts word by word and phrase
by phrase, scores every edit against the target while it searches, and keeps the best.

Each request's best candidates start a beam. One round expands every text of the beam with all its
single edits, scores them with the request's scorer (`ProposalRequest.score`: the loop's encoder
and cache, against this target) and keeps the best `beam` texts; `rounds` rounds per call. Edits:

- substitute a word with a word of the material (kept candidates, bank neighbours, and the bank
  vocabulary's words nearest the target, when the request carries a vocabulary);
- insert such a word, or delete one;
- replace, insert or delete a phrase (text between joins such as "and", "with", ",") with a phrase
  of the material.

An edit stays only when it reads as the corpus (the bank's texts) reads:
- every word pair it creates was seen side by side there, except that a substituted content word
  needs only one of its two pairs seen when it is alike the word it replaces: the two share contexts,
  enough of them and a quarter of the rarer word's (so "red triangle" -> "blue triangle" passes when
  "blue circle" was seen, and "loud" does not stand in for "low-pitched");
- a function word goes only where it has stood, and articles keep their neighbours ("on the left" may
  not become "in the left" because "in the centre" exists);
- an insertion, deletion or phrase edit may not add more word triples that the corpus does not hold,
  even with a word alike the middle one, than it removes (a novel triple around "and" is fine);
- a word inserted or deleted, or a function word replaced, may not leave a triple rarer in the corpus
  than the rarest it takes out: "and a loud bell" is English that a few MILS lines hold, but not in
  place of "and a high-pitched bell", which dozens of captions hold (phrases come whole from the
  corpus's texts; content words trade for alike ones freely, as that is how new scenes are named);
- no join starts or ends it unless corpus texts do, and no word occurs more often than it does in any
  one corpus text.
That keeps edits grammatical without a language model, and lets them compose what no caption holds.

The corpus's word pairs also bound what it can say: "chef preparing food" cannot become "chef chopping
onions" when no caption says "chopping onions". `edit:lexicon` adds word trades (`lexical_edits`): a content
word for one of the words nearest the target that can be the same part of speech, in any context, each
kept only where a language model (SmolLM2) reads it at least as fluently as the text it edits.
"""

from __future__ import annotations

import functools
import re
import time
from collections import Counter
from typing import Sequence

import numpy as np

from ..errors import GeneratorError
from ..registry import require
from .base import Generator, Proposal, ProposalRequest
from .fluency import Fluency, default_fluency
from .parsing import candidate_key

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|[0-9]+|[,;]")
# Words where one phrase ends and the next begins.
_JOINS = frozenset("and with while , ; on in at under over near by from behind beside above below".split())
# The grammar's glue: a scorer barely tells "an yellow" or "on a right" from the real thing, so these
# are replaced only where both word pairs around them were seen.
_PUNCTUATION = frozenset(",;")
# Contexts two content words must share to stand in for each other where one of their pairs is new:
# one shared context lets "right" stand in for "color" through a single stray caption.
SHARED_CONTEXTS = 2
SHARED_SHARE = 0.25
# edit:lexicon's beam, wider than edit's: its trades open far more paths than the bank's word pairs allow,
# and a narrow beam commits to the first that scores well (measured: README, *Words the bank never put together*).
LEXICON_BEAM = 8
_FUNCTION_WORDS = _JOINS | frozenset(
    "a an the of to for into onto is are was were be been it its this that these those there their his her "
    "or but as than then so not no".split()
)
# Joins that link two phrases of the same kind, whatever stands on either side (prepositions do not:
# "from in a" is new English, "rumbling and high-pitched" is not).
_COORDINATORS = frozenset("and while , ;".split())
# Function words that are not joins: they must keep the company they kept ("the" after "on" before
# "left"); joins link phrases, so "rumbling and high-pitched" may be new when both pairs were seen.
_GLUE = _FUNCTION_WORDS - _JOINS


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def join_words(words: Sequence[str]) -> str:
    """The words as text, with "a"/"an" agreeing with the word after them (edits move words around articles)."""
    fixed = [
        ("an" if following[:1] in "aeiou" else "a") if word in ("a", "an") and following else word
        for word, following in zip(words, [*words[1:], ""])
    ]
    return re.sub(r" ([,;])", r"\1", " ".join(fixed))


class Language:
    """What a corpus (the bank's texts) says about word order: the word pairs it holds side by side,
    and the contexts (left word, right word) each word stands in."""

    def __init__(self, texts: Sequence[str]):
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
            self.pairs.update(zip(words, words[1:]))
            for left, word, right in zip(words, words[1:], words[2:]):
                self.triples[left, word, right] += 1
                self.contexts.setdefault(word, set()).add((left, right))
                self.fillers.setdefault((left, right), set()).add(word)
        self.words = list(self.contexts)
        self._alike: dict[tuple[str, str], bool] = {}

    def repeats_as_seen(self, words: Sequence[str]) -> bool:
        """No word more often in the text than in any one corpus text: "on the left in the left" fails
        where no caption names a side twice, "a red star ... a blue star" passes where two stars were seen."""
        return all(count <= max(self.most[word], 1) for word, count in Counter(words).items())

    def seen(self, left: str, right: str) -> bool:
        return (left, right) in self.pairs

    def loose_glue(self, words: Sequence[str]) -> int:
        """How many of the text's articles and other non-join function words stand between words they
        never stood between: "in the left" where the corpus says "on the left" and "in the centre"."""
        return sum(word in _GLUE and (left, right) not in self.contexts.get(word, ()) for left, word, right in _windows(words))

    def novel(self, words: Sequence[str]) -> int:
        """How many of the text's word triples the corpus never holds, even with a word alike the middle one
        ("small blue triangle" is held as "small red triangle"), but for those around a coordinator:
        "and" links two phrases, so "thunder rumbling and low-pitched birds" may be new where each
        phrase and each pair around "and" was seen."""
        return sum(word not in _COORDINATORS and (left, right) not in self.contexts.get(word, ())
                   and not any(self.alike(word, filler) for filler in self.fillers.get((left, right), ()))
                   for left, word, right in _windows(words))

    def attested(self, left: str, word: str, right: str) -> int:
        """How often the corpus holds the triple, or the same context with a word alike the middle one."""
        return max([self.triples[left, word, right],
                    *(self.triples[left, filler, right] for filler in self.fillers.get((left, right), ()) if self.alike(word, filler))])

    def weakest(self, triples) -> float:
        """How often the corpus holds the least attested of these triples (around a coordinator, any will do)."""
        return min((self.attested(*triple) for triple in triples if triple[1] not in _COORDINATORS), default=float("inf"))

    def can_replace(self, old: str, new: str, left: str, right: str) -> bool:
        """`new` in place of `old` between `left` and `right`. A function word must have stood in this
        very context; a content word needs both pairs seen, or one pair seen and the two words alike
        (red/blue in "small _ circle")."""
        if old in _FUNCTION_WORDS or new in _FUNCTION_WORDS:
            return (left, right) in self.contexts.get(new, ())
        left_seen, right_seen = self.seen(left, new), self.seen(new, right)
        if left_seen and right_seen:
            return True
        return (left_seen or right_seen) and self.alike(old, new)

    def alike(self, first: str, second: str) -> bool:
        """Whether two words stand in enough of the same contexts to stand in for each other: at least
        SHARED_CONTEXTS, and at least SHARED_SHARE of the contexts of the rarer one (an overlap
        coefficient). "loud" and "low-pitched" share "a _ clock" and "a _ bell", but few of the
        contexts either has: two adjectives in a row, not one adjective in place of another."""
        key = (first, second) if first <= second else (second, first)
        if key not in self._alike:
            mine, theirs = self.contexts.get(first, set()), self.contexts.get(second, set())
            shared = len(mine & theirs)
            self._alike[key] = shared >= SHARED_CONTEXTS and shared >= SHARED_SHARE * min(len(mine), len(theirs))
        return self._alike[key]

    def can_insert(self, new: str, left: str, right: str) -> bool:
        if new in _FUNCTION_WORDS:
            return (left, right) in self.contexts.get(new, ())
        return self.seen(left, new) and self.seen(new, right)


def _phrases(words: Sequence[str]) -> list[tuple[str, ...]]:
    """Maximal runs that start at a join (or the start) and end before the next join."""
    starts = [0] + [i for i, word in enumerate(words) if i > 0 and word in _JOINS]
    ends = starts[1:] + [len(words)]
    return [tuple(words[start:end]) for start, end in zip(starts, ends) if end > start]


def single_edits(words: list[str], language: Language, vocabulary: Sequence[str], phrases: Sequence[tuple[str, ...]]) -> list[list[str]]:
    """Every single edit of `words` that keeps to the language's word pairs (see the module docstring).

    Substitutions and swaps may make word triples the corpus never held (that is how "small blue
    triangle" is composed from "small blue circle" and "small red triangle"); insertions, deletions and
    phrase edits may not add one: they change how the text is built, not what it names. Word-level
    changes to how it is built must also be as well attested as what they replace (`_as_attested`).
    """
    padded = ["<s>", *words, "</s>"]
    edits: list[list[str]] = []
    restructured: list[list[str]] = []  # words inserted or deleted
    rephrased: list[list[str]] = []
    for i in range(len(words)):
        left, right = padded[i], padded[i + 2]
        if len(words) > 1 and words[i] not in _FUNCTION_WORDS and language.seen(left, right):
            restructured.append(words[:i] + words[i + 1 :])
        for word in vocabulary:
            if word != words[i] and language.can_replace(words[i], word, left, right):
                edits.append(words[:i] + [word] + words[i + 1 :])
        for j in range(i + 1, len(words)):
            # Two words trade places ("a brown heart ... an orange square" -> "an orange heart ... a brown square").
            if words[j] != words[i] and language.can_replace(words[i], words[j], padded[i], padded[i + 2]) and \
                    language.can_replace(words[j], words[i], padded[j], padded[j + 2]):
                swapped = list(words)
                swapped[i], swapped[j] = words[j], words[i]
                edits.append(swapped)
    for i in range(len(words) + 1):
        left, right = padded[i], padded[i + 1]
        for word in vocabulary:
            if language.can_insert(word, left, right):
                restructured.append(words[:i] + [word] + words[i:])
    spans, start = [], 0
    for phrase in _phrases(words):
        spans.append((start, start + len(phrase)))
        start += len(phrase)
    for start, end in spans:
        if len(spans) > 1:
            rephrased.append(words[:start] + words[end:])
        for phrase in phrases:
            if list(phrase) != words[start:end] and (phrase[0] in _JOINS) == (words[start] in _JOINS):
                rephrased.append(words[:start] + list(phrase) + words[end:])
    present = {tuple(words[start:end]) for start, end in spans}
    for phrase in phrases:
        if phrase[0] in _JOINS and phrase not in present:  # saying a phrase twice adds nothing but score noise
            rephrased.append(words + list(phrase))
    novel, loose, triples = language.novel(words), language.loose_glue(words), Counter(_windows(words))
    return [edit for edit in edits if language.loose_glue(edit) <= loose and (_alike_swap(words, edit) or _as_attested(triples, edit, language))] + \
        [edit for edit in restructured if language.novel(edit) <= novel and language.loose_glue(edit) <= loose and _as_attested(triples, edit, language)] + \
        [edit for edit in rephrased if language.novel(edit) <= novel and language.loose_glue(edit) <= loose]


def _windows(words: Sequence[str]):
    """The text's word triples (left, word, right), with <s> and </s> at its ends."""
    padded = ["<s>", *words, "</s>"]
    return zip(padded, padded[1:], padded[2:])


def _alike_swap(words: Sequence[str], edit: Sequence[str]) -> bool:
    """Whether the edit only trades content words for content words (what a scene is, not how it is said)."""
    return len(words) == len(edit) and all(a == b or (a not in _FUNCTION_WORDS and b not in _FUNCTION_WORDS) for a, b in zip(words, edit))


def _as_attested(before: Counter, edit: Sequence[str], language: Language) -> bool:
    """The edit puts no word triple rarer in the corpus than the rarest one it takes out of the text
    whose triples are `before`."""
    after = Counter(_windows(edit))
    return language.weakest(after - before) >= language.weakest(before - after)


def well_formed(words: Sequence[str], language: Language) -> bool:
    """No word twice in a row, no phrase twice, no punctuation at either end, and no join at either end
    unless the corpus starts or ends that way ("with a woman reading", "birds flying above"): what a
    scorer may reward ("a high-pitched high-pitched bell", "a shot of an object in", "and wind blowing")
    but a caption never says."""
    if not words or words[0] in _PUNCTUATION or words[-1] in _PUNCTUATION:
        return False
    padded = ["<s>", *words, "</s>"]
    if any(padded[i] in _JOINS and (padded[i - 1], padded[i + 1]) not in language.contexts.get(padded[i], ())
           for i in {1, len(words)}):
        return False
    if any(a == b for a, b in zip(words, words[1:])):
        return False
    phrases = _phrases(words)
    return len(set(phrases)) == len(phrases)


class EditGenerator(Generator):
    """Beam search over single edits of the best texts, scored in the space (see the module docstring).

    beam: texts kept between rounds (3, or LEXICON_BEAM with a judge); rounds: edit rounds per call;
    vocabulary: how many of the corpus's words nearest the target join the words of the bank
    neighbours; checks: at most this many texts per round are put to the judge and the loop's gate
    (`ProposalRequest.accept`) to pick a beam they would keep; judge: a Fluency that enables word
    trades (`lexical_edits`) with the `trades` words nearest the target, each kept only where the
    judge reads it at least as fluently as the text it edits (`edit:lexicon`: SmolLM2).
    """

    # Its edits keep to the bank's own word pairs and triples; SmolLM2's fluency judges worse here: it
    # scores "quiet low-pitched birds chirping slowly" below a 14-word salad (README, open world).
    needs_fluency_gate = False

    def __init__(self, *, beam: int | None = None, rounds: int = 3, vocabulary: int = 40, checks: int = 30,
                 judge: Fluency | None = None, trades: int = 15):
        if beam is None:
            beam = 3 if judge is None else LEXICON_BEAM
        for name, value in (("beam", beam), ("rounds", rounds)):
            if value < 1:
                raise GeneratorError(f"the edit generator's {name} must be at least 1; got {value}.")
        self.beam, self.rounds, self.vocabulary, self.checks = beam, rounds, vocabulary, checks
        self.judge, self.trades = judge, trades
        self.spec = "edit:lexicon" if judge is not None else "edit"
        self._languages: dict[int, tuple[Sequence[str], Language]] = {}

    def _language(self, corpus: Sequence[str]) -> Language:
        """The corpus's Language, built once per corpus object (a bank's texts do not change)."""
        if id(corpus) not in self._languages or self._languages[id(corpus)][0] is not corpus:
            self._languages[id(corpus)] = (corpus, Language(corpus))
        return self._languages[id(corpus)][1]

    def propose(self, requests: Sequence[ProposalRequest]) -> list[Proposal]:
        return [self._propose_one(request) for request in requests]

    def _propose_one(self, request: ProposalRequest) -> Proposal:
        started = time.perf_counter()
        if request.score is None:
            return Proposal(texts=[], error="edit needs a scorer on the request (the loop gives one); none was given")
        local = [text for _, text in request.candidates] + list(request.neighbours)
        language = self._language(request.corpus or request.neighbours)
        # Words and phrases come from the bank's texts only: the loop's own candidates may already hold
        # an edit the scorer liked for the wrong reason, and copying its parts would spread it.
        vocabulary = dict.fromkeys(word for text in request.neighbours for word in words_of(text))
        wanted = max(self.vocabulary, self.trades if self.judge else 0)
        nearest = _nearest_words(request, language.words, wanted) if wanted else []
        vocabulary.update(dict.fromkeys(nearest[: self.vocabulary]))
        vocabulary = list(vocabulary)
        tradeable = nearest[: self.trades] if self.judge else []
        phrases = list(dict.fromkeys(phrase for text in request.neighbours for phrase in _phrases(words_of(text))))
        # The prompt's word cap is for LLMs; an edit may be as long as the texts it is made from.
        longest = max([request.max_words, *(len(words_of(text)) for text in local)])
        scores: dict[str, float] = {}
        verdicts: dict[str, bool] = {}  # the judge's and the loop's gate's verdicts on the texts checked so far
        trades: dict[str, str] = {}  # word trades (`lexical_edits`) -> the text each edits, for the judge
        known = {candidate_key(text) for text in local}
        beam = [words_of(text) for _, text in request.candidates[: self.beam]]
        for _ in range(self.rounds):
            fresh: dict[str, None] = {}
            for words in beam:
                loose = language.loose_glue(words)
                traded = [edit for edit in lexical_edits(words, tradeable) if language.loose_glue(edit) <= loose]
                for edit, is_trade in [*((edit, False) for edit in single_edits(words, language, vocabulary, phrases)),
                                       *((edit, True) for edit in traded)]:
                    text = join_words(edit)
                    if text not in scores and text not in fresh and len(edit) <= longest and well_formed(edit, language) \
                            and language.repeats_as_seen(edit):
                        fresh[text] = None
                        if is_trade:
                            trades.setdefault(text, join_words(words))
            if not fresh:
                break
            texts = list(fresh)
            scores.update(zip(texts, map(float, request.score(texts))))
            ranked = sorted(scores, key=lambda text: -scores[text])
            next_beam = [words_of(text) for text in self._admissible(ranked, request, verdicts, trades)]
            if not next_beam or next_beam == beam:
                break
            beam = next_beam
        ranked = sorted((text for text in scores if candidate_key(text) not in known), key=lambda text: -scores[text])
        # Refused texts are not proposed, nor word trades the judge has not read; with a loop gate, the texts
        # it passed come first, then those it has not judged.
        ranked = [text for text in ranked if verdicts.get(text, text not in trades)]
        if request.accept is not None:
            ranked = [text for text in ranked if text in verdicts] + [text for text in ranked if text not in verdicts]
        texts = ranked[: request.requested]
        if request.candidates[0][1][:1].isupper():  # edits are made in lower case; write as the best text does
            texts = [text[:1].upper() + text[1:] for text in texts]
        return Proposal(texts=texts, seconds=time.perf_counter() - started)

    def _admissible(self, ranked: list[str], request: ProposalRequest, verdicts: dict[str, bool], trades: dict[str, str]) -> list[str]:
        """The best `beam` texts of `ranked` that would be kept, judging at most `checks` of them (`_judge`)."""
        picked, checked = [], 0
        for start in range(0, len(ranked), self.beam):
            chunk = ranked[start : start + self.beam]
            unjudged = [text for text in chunk if text not in verdicts and (request.accept is not None or text in trades)]
            if unjudged:
                if checked >= self.checks:
                    break
                verdicts.update(zip(unjudged, self._judge(unjudged, request, trades)))
                checked += len(unjudged)
            picked += [text for text in chunk if verdicts.get(text, True)]
            if len(picked) >= self.beam:
                break
        return picked[: self.beam]

    def _judge(self, texts: list[str], request: ProposalRequest, trades: dict[str, str]) -> list[bool]:
        """Which texts would be kept: a word trade only when the judge reads it at least as fluently as the
        text it edits, and every text only when the loop's gate (`request.accept`, if any) passes it."""
        keep = np.ones(len(texts), dtype=bool)
        traded = [i for i, text in enumerate(texts) if text in trades]
        if traded:
            fluency = self.judge.score([texts[i] for i in traded] + [trades[texts[i]] for i in traded])
            keep[traded] = fluency[: len(traded)] >= fluency[len(traded) :]
        if request.accept is not None and keep.any():
            keep[keep] = np.asarray(request.accept([text for text, kept in zip(texts, keep) if kept]), dtype=bool)
        return keep.tolist()


def lexical_edits(words: list[str], nearest: Sequence[str]) -> list[list[str]]:
    """Each content word traded for one of `nearest` that can be the same part of speech (`parts_of_speech`),
    whether or not the corpus holds the word pairs this makes: "chef preparing food" -> "chef preparing
    onions", "chef chopping food". Unchecked English: `EditGenerator` keeps one only where its judge
    reads it at least as fluently as the text it edits."""
    return [words[:i] + [word] + words[i + 1 :] for i, old in enumerate(words) if old not in _FUNCTION_WORDS
            for word in nearest if word != old and word not in _FUNCTION_WORDS and parts_of_speech(word) & parts_of_speech(old)]


@functools.lru_cache(maxsize=None)
def parts_of_speech(word: str) -> frozenset[str]:
    """The Penn Treebank tags the word can have in lemminflect's English lexicon ("onions": NNS; "chopping":
    VBG and NN); none for a word it does not hold."""
    lemminflect = _lemminflect()
    return frozenset(tag for upos, lemmas in lemminflect.getAllLemmas(word).items() for lemma in lemmas
                     for tag, forms in lemminflect.getAllInflections(lemma, upos).items() if word in forms)


def _lemminflect():
    return require("lemminflect", extra="lexicon,llama", needed_by="the edit:lexicon generator")


def _nearest_words(request: ProposalRequest, words: list[str], count: int) -> list[str]:
    """The `count` words the target's objective scores highest (nearest the target, for cosine): the corpus seen through the scorer."""
    scores = request.score(words)
    return [words[i] for i in np.argsort(-scores, kind="stable")[:count]]


def load_edit(argument: str = "", **options) -> EditGenerator:
    """`edit`, or `edit:lexicon`: also word trades judged by SmolLM2 (needs the lexicon and llama extras)."""
    if argument not in ("", "lexicon"):
        raise GeneratorError(f"the edit generator's argument is 'lexicon' or none (got {argument!r}): edit, or edit:lexicon.")
    if argument:
        _lemminflect()  # installed, before any target is searched
        options.setdefault("judge", default_fluency())
    return EditGenerator(**options)
