"""`edit`'s rules by name: single edits of a text (`Edit`, of the `KINDS`), the table `RULES` that decides
which stand, and what a researcher asks of it: `refusal` (the rule that refuses an edit, and the n-gram
that breaks it), `edit_kinds` and `why`."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from ...corpus.grammar import COORDINATORS, FUNCTION_WORDS, JOINS, PUNCTUATION, CorpusGrammar, phrases_of, windows_of, words_of
from ...registry import require

# The kinds of edit (module docstring); `trade` only with a judge (edit:lexicon).
KINDS = ("substitute", "swap", "insert", "delete", "phrase", "trade")


class _Parent:
    """A text being edited, with what the rules compare its edits against (each worked out when first asked).
    longest: the most words an edit may have (None: any number); vocabulary, phrases, tradeable: the material
    the search drew on (the `material` rule's; None: not known, anything passes)."""

    def __init__(
        self,
        words: Sequence[str],
        grammar: CorpusGrammar | None,
        longest: int | None = None,
        *,
        vocabulary: Sequence[str] | None = None,
        phrases: Sequence[tuple[str, ...]] | None = None,
        tradeable: Sequence[str] | None = None,
    ):
        self.words, self.grammar, self.longest = list(words), grammar, longest
        self.padded = ["<s>", *self.words, "</s>"]
        self.material = {
            kind: None if drawn is None else set(drawn)
            for kind, drawn in (("substitute", vocabulary), ("insert", vocabulary), ("phrase", phrases), ("trade", tradeable))
        }

    @property
    def corpus(self) -> CorpusGrammar:
        """The grammar, for the rules that read the corpus (only `lexical_edits`, whose rules do not, gives none)."""
        if self.grammar is None:
            raise ValueError("this rule reads the corpus: give the text's _Parent a CorpusGrammar")
        return self.grammar

    @functools.cached_property
    def loose(self) -> int:
        return self.corpus.loose_glue(self.words)

    @functools.cached_property
    def novel(self) -> int:
        return self.corpus.novel(self.words)

    @functools.cached_property
    def triples(self) -> Counter:
        return Counter(windows_of(self.words))

    @functools.cached_property
    def spans(self) -> list[tuple[int, int]]:
        """Where its phrases (`phrases_of`) start and end."""
        spans, start = [], 0
        for phrase in phrases_of(self.words):
            spans.append((start, start + len(phrase)))
            start += len(phrase)
        return spans


class Edit:
    """One single edit of a text: its `kind` (KINDS) and its change, the words `new` in place of the parent's
    words [start, end) (an insertion at i is (i, i, (word,)), a deletion (i, i + 1, ())); `then`: a swap's
    second change, further right."""

    __slots__ = ("kind", "parent", "start", "end", "new", "then", "_words")
    _words: list[str] | None

    def __init__(
        self,
        kind: str,
        parent: _Parent,
        start: int = 0,
        end: int = 0,
        new: tuple[str, ...] = (),
        then: tuple[int, int, tuple[str, ...]] | None = None,
    ):
        self.kind, self.parent, self.start, self.end, self.new, self.then, self._words = kind, parent, start, end, new, then, None

    @property
    def changes(self) -> tuple[tuple[int, int, tuple[str, ...]], ...]:
        return ((self.start, self.end, self.new),) + ((self.then,) if self.then else ())

    def parts(self) -> list[Edit]:
        """Each change on its own (a swap's two)."""
        return [Edit(self.kind, self.parent, *change) for change in self.changes]

    @property
    def words(self) -> list[str]:
        """The edited text's words (made when first asked: most edits are refused before)."""
        if self._words is None:
            words, last = [], 0
            for start, end, new in self.changes:
                words += self.parent.words[last:start]
                words += new
                last = end
            self._words = words + self.parent.words[last:]
        return self._words

    def __len__(self) -> int:
        if self._words is not None:
            return len(self._words)
        return len(self.parent.words) + sum(len(new) - (end - start) for start, end, new in self.changes)


class Rule(NamedTuple):
    """One rule of `RULES`: its name, what it asks, and per kind of edit it applies to, a check
    (edit -> whether it keeps the rule); `culprit(edit)` says what breaks it, for `refusal` only.
    A text rule reads the edited text alone (and the parent's counts), so it can judge any text (`why`); a
    material rule holds for every edit the search makes (it makes them from its material)."""

    name: str
    description: str
    checks: dict[str, Callable[[Edit], bool]]
    culprit: Callable[[Edit], str]
    text_rule: bool = False
    material: bool = False


def _shown(words: Sequence[str]) -> str:
    """Words as a quoted n-gram, the text's ends written [start] and [end]."""
    return "'" + " ".join({"<s>": "[start]", "</s>": "[end]"}.get(word, word) for word in words) + "'"


def _surroundings(edit: Edit) -> tuple[str, str]:
    """The parent's words left and right of the span its (first) change replaces."""
    return edit.parent.padded[edit.start], edit.parent.padded[edit.end + 1]


def _each_change(check: Callable[[Edit], bool]) -> Callable[[Edit], bool]:
    """A check of each change of a swap, in the parent's context (other kinds make one change: the check itself)."""
    return lambda edit: all(check(part) for part in edit.parts())


def _first_change(check: Callable[[Edit], bool], show: Callable[[Edit], str]) -> Callable[[Edit], str]:
    """The culprit of a per-change rule: `show` of the first change that fails `check`."""
    return lambda edit: next(show(part) for part in edit.parts() if not check(part))


# material: what an edit puts in was drawn on (by construction in the search; `refusal` checks it where it is given).
def _drawn(edit: Edit) -> bool:
    material = edit.parent.material.get(edit.kind)
    if material is None or not edit.new:
        return True
    return (edit.new if edit.kind == "phrase" else edit.new[0]) in material


def _show_undrawn(edit: Edit) -> str:
    if edit.kind == "phrase":
        return f"{_shown(edit.new)} is not a phrase of the bank neighbours'"
    where = (
        "the words nearest the target it may trade in"
        if edit.kind == "trade"
        else "the words it drew on (the bank neighbours' and the corpus words nearest the target)"
    )
    return f"'{edit.new[0]}' is not among {where}"


# function-word: a function word is put only where it has stood, and never deleted or traded on its own.
def _function_word_placed(edit: Edit) -> bool:
    start, end, new = edit.start, edit.end, edit.new
    if new[0] not in FUNCTION_WORDS and (end == start or edit.parent.words[start] not in FUNCTION_WORDS):
        return True
    padded = edit.parent.padded
    return (padded[start], padded[end + 1]) in edit.parent.corpus.contexts.get(new[0], ())


def _content_word_removed(edit: Edit) -> bool:
    return edit.parent.words[edit.start] not in FUNCTION_WORDS and all(word not in FUNCTION_WORDS for word in edit.new)


def _show_function_word(edit: Edit) -> str:
    start, end, new = edit.start, edit.end, edit.new
    if edit.kind == "delete":
        return f"{_shown(edit.parent.words[start:end])} (a function word goes only with its phrase)"
    if edit.kind == "trade":
        return f"'{new[0]}' for '{edit.parent.words[start]}' (trades are of content words)"
    left, right = _surroundings(edit)
    return _shown((left, new[0], right))


# unseen-pair: the word pairs a content word makes were seen, or one was and it is alike the word it replaces.
def _pairs_seen(edit: Edit) -> bool:
    parent, start, end, new = edit.parent, edit.start, edit.end, edit.new
    pairs, left, right = parent.corpus.pairs, parent.padded[start], parent.padded[end + 1]
    if not new:  # a deletion joins its neighbours
        return (left, right) in pairs
    word, old = new[0], parent.words[start] if end > start else None
    if old in FUNCTION_WORDS or word in FUNCTION_WORDS:
        return True  # function-word's
    left_seen, right_seen = (left, word) in pairs, (word, right) in pairs
    if left_seen and right_seen:
        return True
    return old is not None and (left_seen or right_seen) and parent.corpus.alike(old, word)


def _show_pairs(edit: Edit) -> str:
    grammar, (left, right), start, new = edit.parent.corpus, _surroundings(edit), edit.start, edit.new
    if not new:
        return _shown((left, right))
    unseen = [pair for pair in ((left, new[0]), (new[0], right)) if not grammar.seen(*pair)]
    if unseen:
        return " and ".join(map(_shown, unseen))
    return f"{_shown((left, new[0], right))} ('{new[0]}' is not alike '{edit.parent.words[start]}')"


# phrase-kind: a phrase stands for a phrase of its kind: one that starts with a join for one that does.
def _phrase_of_its_kind(edit: Edit) -> bool:
    start, end, new = edit.start, edit.end, edit.new
    if not new:
        return True
    if start == end:  # added at the end: it must join on
        return new[0] in JOINS
    return (new[0] in JOINS) == (edit.parent.words[start] in JOINS)


def _show_phrase(edit: Edit) -> str:
    start, end, new = edit.start, edit.end, edit.new
    return _shown(new) + (f" for {_shown(edit.parent.words[start:end])}" if end > start else " (added at the end, not after a join)")


# part-of-speech: a trade keeps a part of speech the two words can both have.
def _same_part_of_speech(edit: Edit) -> bool:
    start, new = edit.start, edit.new
    return bool(parts_of_speech(new[0]) & parts_of_speech(edit.parent.words[start]))


def _show_part_of_speech(edit: Edit) -> str:
    start, new = edit.start, edit.new
    return f"'{new[0]}' for '{edit.parent.words[start]}'"


def _as_long_as_allowed(edit: Edit) -> bool:
    return edit.parent.longest is None or len(edit) <= edit.parent.longest


def _glue_kept(edit: Edit) -> bool:
    return edit.parent.corpus.loose_glue(edit.words) <= edit.parent.loose


def _novel_kept(edit: Edit) -> bool:
    return edit.parent.corpus.novel(edit.words) <= edit.parent.novel


def _added(edit: Edit, counts: Callable) -> str:
    """The first of the edit's word triples that `counts` (a grammar's per-triple test) flags and the parent does not hold."""
    before = Counter(triple for triple in windows_of(edit.parent.words) if counts(triple))
    for triple in windows_of(edit.words):
        if counts(triple):
            if before[triple]:
                before[triple] -= 1
            else:
                return _shown(triple)
    return ""


def _as_attested(edit: Edit) -> bool:
    """The edit puts no word triple rarer in the corpus than the rarest one it takes out of its parent;
    trading content words for content words (what a scene is, not how it is said) is free."""
    if edit.kind in ("substitute", "swap") and all(
        edit.parent.words[start] not in FUNCTION_WORDS and new[0] not in FUNCTION_WORDS for start, _, new in edit.changes
    ):
        return True
    before, after = edit.parent.triples, Counter(windows_of(edit.words))
    return edit.parent.corpus.weakest(after - before) >= edit.parent.corpus.weakest(before - after)


def _show_rarer(edit: Edit) -> str:
    grammar, before, after = edit.parent.corpus, edit.parent.triples, Counter(windows_of(edit.words))
    added = [triple for triple in after - before if triple[1] not in COORDINATORS]
    weakest = min(added, key=lambda triple: grammar.attested(*triple))
    return (
        f"{_shown(weakest)} (held {grammar.attested(*weakest)} times in the corpus; "
        f"the rarest triple it takes out, {grammar.weakest(before - after)})"
    )


def _clean_ends(edit: Edit) -> bool:
    words = edit.words
    return words[0] not in PUNCTUATION and words[-1] not in PUNCTUATION


def _joins_at_ends(edit: Edit) -> list[tuple[str, str, str]]:
    """The text's first and last word with their neighbours, where a join stands there and no corpus text has it so."""
    words, grammar = edit.words, edit.parent.corpus
    padded = ["<s>", *words, "</s>"]
    return [
        (padded[i - 1], padded[i], padded[i + 1])
        for i in sorted({1, len(words)})
        if padded[i] in JOINS and not grammar.stood(padded[i], padded[i - 1], padded[i + 1])
    ]


def _no_word_twice_in_a_row(edit: Edit) -> bool:
    words = edit.words
    return not any(a == b for a, b in zip(words, words[1:], strict=False))


def _no_phrase_twice(edit: Edit) -> bool:
    phrases = phrases_of(edit.words)
    return len(set(phrases)) == len(phrases)


def _show_repeats(edit: Edit) -> str:
    grammar = edit.parent.corpus
    word, count = next((word, count) for word, count in Counter(edit.words).items() if count > max(grammar.most[word], 1))
    return f"'{word}' {count} times (at most {max(grammar.most[word], 1)} in any corpus text)"


def _all(check: Callable[[Edit], bool], kinds: Sequence[str] = KINDS) -> dict[str, Callable[[Edit], bool]]:
    return dict.fromkeys(kinds, check)


# Checked in this order; the first that refuses an edit is the one named (and counted: `record_refusals`).
RULES: tuple[Rule, ...] = (
    Rule(
        "material",
        "what an edit puts in comes from its material: a word from the bank neighbours' texts or the "
        "corpus words nearest the target, a phrase from the neighbours' texts, a trade from the words nearest the "
        "target (the search draws on nothing else; `refusal` checks it when given the material)",
        _all(_drawn, ("substitute", "insert", "phrase", "trade")),
        _show_undrawn,
        material=True,
    ),
    Rule(
        "function-word",
        "a function word is put only where it has stood (between the same two words), and is "
        "never deleted or traded on its own, only with its phrase",
        {
            **_all(_function_word_placed, ("substitute", "insert")),
            "swap": _each_change(_function_word_placed),
            **_all(_content_word_removed, ("delete", "trade")),
        },
        lambda edit: _first_change(
            _content_word_removed if edit.kind in ("delete", "trade") else _function_word_placed, _show_function_word
        )(edit),
    ),
    Rule(
        "unseen-pair",
        "every word pair a content word makes was seen side by side in the corpus (a deletion's too), but "
        "a substituted word needs only one of its pairs seen where it is alike the word it replaces",
        {**_all(_pairs_seen, ("substitute", "insert", "delete")), "swap": _each_change(_pairs_seen)},
        _first_change(_pairs_seen, _show_pairs),
    ),
    Rule(
        "phrase-kind",
        "a phrase replaces a phrase of its kind (one that starts with a join for one that does), and a "
        "phrase added at the end starts with a join",
        _all(_phrase_of_its_kind, ("phrase",)),
        _show_phrase,
    ),
    Rule(
        "part-of-speech",
        "a trade keeps a part of speech both words can have (lemminflect's lexicon)",
        _all(_same_part_of_speech, ("trade",)),
        _show_part_of_speech,
    ),
    Rule("empty", "something is left", _all(lambda edit: len(edit) > 0), lambda edit: "", text_rule=True),
    Rule(
        "too-long",
        "no more words than the prompt's cap or the longest text it is made from",
        _all(_as_long_as_allowed),
        lambda edit: f"{len(edit)} words (at most {edit.parent.longest})",
        text_rule=True,
    ),
    Rule(
        "glue",
        "articles and other function words that are not joins keep the neighbours they had in the corpus: "
        "'on the left' may not become 'in the left' because 'in the centre' exists (no more such words out of "
        "place than in the text edited)",
        _all(_glue_kept),
        lambda edit: _added(edit, edit.parent.corpus._loose),
        text_rule=True,
    ),
    Rule(
        "novel-triples",
        "an insertion, deletion or phrase edit adds no more word triples the corpus never holds (even "
        "with a word alike the middle one; around 'and' any) than it removes",
        _all(_novel_kept, ("insert", "delete", "phrase")),
        lambda edit: _added(edit, edit.parent.corpus._novel),
    ),
    Rule(
        "rarer-triple",
        "a word inserted or deleted, or a function word replaced, leaves no word triple rarer in the corpus than the rarest it takes out",
        _all(_as_attested, ("substitute", "swap", "insert", "delete")),
        _show_rarer,
    ),
    Rule(
        "punctuation-at-end",
        "no comma or semicolon starts or ends the text",
        _all(_clean_ends),
        lambda edit: _shown([word for word in (edit.words[0], edit.words[-1]) if word in PUNCTUATION][:1]),
        text_rule=True,
    ),
    Rule(
        "join-at-end",
        "no join ('and', 'with', 'below', ...) starts or ends the text unless corpus texts do",
        _all(lambda edit: not _joins_at_ends(edit)),
        lambda edit: _shown(_joins_at_ends(edit)[0]),
        text_rule=True,
    ),
    Rule(
        "repeated-word",
        "no word twice in a row",
        _all(_no_word_twice_in_a_row),
        lambda edit: next(_shown((a, b)) for a, b in zip(edit.words, edit.words[1:], strict=False) if a == b),
        text_rule=True,
    ),
    Rule(
        "repeated-phrase",
        "no phrase twice",
        _all(_no_phrase_twice),
        lambda edit: next(_shown(phrase) for phrase, count in Counter(phrases_of(edit.words)).items() if count > 1),
        text_rule=True,
    ),
    Rule(
        "repeats-as-seen",
        "no word more often than in any one corpus text ('on the left in the left' fails where no caption names a side twice)",
        _all(lambda edit: edit.parent.corpus.repeats_as_seen(edit.words)),
        _show_repeats,
        text_rule=True,
    ),
)
# The rules that apply to each kind, in order: what `refusal` runs, and the search but for the material
# rules, which its edits keep by construction.
_ALL_CHECKS: dict[str, tuple[tuple[Rule, Callable[[Edit], bool]], ...]] = {
    kind: tuple((rule, rule.checks[kind]) for rule in RULES if kind in rule.checks) for kind in KINDS
}
_CHECKS = {kind: tuple((rule, check) for rule, check in checks if not rule.material) for kind, checks in _ALL_CHECKS.items()}
_WELL_FORMED = ("empty", "punctuation-at-end", "join-at-end", "repeated-word", "repeated-phrase")


def _refused(edit: Edit, every: bool = False) -> Rule | None:
    """The first rule that refuses the edit, or None; every: the material rules too (`refusal`)."""
    for rule, check in (_ALL_CHECKS if every else _CHECKS)[edit.kind]:
        if not check(edit):
            return rule
    return None


def _kept(edits: Sequence[Edit], counts: Counter | None) -> list[list[str]]:
    """The words of the edits no rule refuses, in order; each refused one counted under its rule's name in `counts`."""
    kept = []
    for edit in edits:
        rule = _refused(edit)
        if rule is None:
            kept.append(edit.words)
        elif counts is not None:
            counts[rule.name] += 1
    return kept


def _named(rule: Rule, edit: Edit) -> str:
    culprit = rule.culprit(edit)
    return f"{rule.name}: {culprit}" if culprit else rule.name


def _candidates(parent: _Parent, vocabulary: Sequence[str], phrases: Sequence[tuple[str, ...]]) -> list[Edit]:
    """Every single edit of the parent with the material, before the rules: word edits (substitutions and
    swaps), then insertions and deletions, then phrase edits."""
    words, n = parent.words, len(parent.words)
    edits: list[Edit] = []
    deleted: list[Edit] = []
    for i in range(n):
        deleted.append(Edit("delete", parent, i, i + 1))
        edits += [Edit("substitute", parent, i, i + 1, (word,)) for word in vocabulary if word != words[i]]
        # Two words trade places ("a brown heart ... an orange square" -> "an orange heart ... a brown square").
        edits += [Edit("swap", parent, i, i + 1, (words[j],), (j, j + 1, (words[i],))) for j in range(i + 1, n) if words[j] != words[i]]
    inserted = [Edit("insert", parent, i, i, (word,)) for i in range(n + 1) for word in vocabulary]
    rephrased = []
    for start, end in parent.spans:
        rephrased.append(Edit("phrase", parent, start, end))
        rephrased += [Edit("phrase", parent, start, end, phrase) for phrase in phrases if list(phrase) != words[start:end]]
    rephrased += [Edit("phrase", parent, n, n, phrase) for phrase in phrases]
    return edits + deleted + inserted + rephrased


def single_edits(
    words: list[str],
    grammar: CorpusGrammar,
    vocabulary: Sequence[str],
    phrases: Sequence[tuple[str, ...]],
    *,
    longest: int | None = None,
    counts: Counter | None = None,
) -> list[list[str]]:
    """Every single edit of `words` with this material that no rule of `RULES` refuses (see the module docstring).

    Substitutions and swaps may make word triples the corpus never held (that is how "small blue
    triangle" is composed from "small blue circle" and "small red triangle"); insertions, deletions and
    phrase edits may not add one: they change how the text is built, not what it names. Word-level
    changes to how it is built must also be as well attested as what they replace (`rarer-triple`).
    longest: the most words an edit may have; counts: where given, each refused edit is counted under its rule's name.
    """
    return _kept(_candidates(_Parent(words, grammar, longest), vocabulary, phrases), counts)


def _trades(parent: _Parent, nearest: Sequence[str]) -> list[Edit]:
    return [Edit("trade", parent, i, i + 1, (word,)) for i, old in enumerate(parent.words) for word in nearest if word != old]


def well_formed(words: Sequence[str], grammar: CorpusGrammar) -> bool:
    """No word twice in a row, no phrase twice, no punctuation at either end, and no join at either end
    unless the corpus starts or ends that way ("with a woman reading", "birds flying above"): what a
    scorer may reward ("a high-pitched high-pitched bell", "a shot of an object in", "and wind blowing")
    but a caption never says (the rules `empty`, `punctuation-at-end`, `join-at-end`, `repeated-word`, `repeated-phrase`)."""
    edit = Edit("phrase", _Parent(words, grammar))  # no change: the text itself
    return all(rule.checks["phrase"](edit) for rule in RULES if rule.name in _WELL_FORMED)


def _readings(parent: _Parent, words: list[str], kinds: Sequence[str]) -> list[Edit]:
    """The single edits of the parent (of these kinds) that make `words`, word edits first; none when it is not one edit away.
    A phrase put in must be a phrase of a corpus text, as the material's phrases are."""
    old, n, m = parent.words, len(parent.words), len(words)
    readings = []
    if n == m:
        differ = [i for i in range(n) if old[i] != words[i]]
        if len(differ) == 1:
            i = differ[0]
            readings += [Edit(kind, parent, i, i + 1, (words[i],)) for kind in ("substitute", "trade")]
        if len(differ) == 2 and (old[differ[0]], old[differ[1]]) == (words[differ[1]], words[differ[0]]):
            i, j = differ
            readings.append(Edit("swap", parent, i, i + 1, (words[i],), (j, j + 1, (words[j],))))
    if m == n + 1:
        readings += [Edit("insert", parent, i, i, (words[i],)) for i in range(n + 1) if words[:i] + words[i + 1 :] == old]
    if m == n - 1:
        readings += [Edit("delete", parent, i, i + 1) for i in range(n) if old[:i] + old[i + 1 :] == words]
    for start, end in [*parent.spans, (n, n)]:
        stop = m - (n - end)
        if stop >= start and words[:start] == old[:start] and words[stop:] == old[end:]:
            phrase = tuple(words[start:stop])
            if list(phrase) != old[start:end] and (not phrase or phrase in parent.corpus.phrases):
                readings.append(Edit("phrase", parent, start, end, phrase))
    return [edit for edit in readings if edit.kind in kinds]


def refusal(
    grammar: CorpusGrammar,
    parent: str | Sequence[str],
    text: str | Sequence[str],
    *,
    kinds: Sequence[str] = KINDS[:-1],
    longest: int | None = None,
    vocabulary: Sequence[str] | None = None,
    phrases: Sequence[tuple[str, ...]] | None = None,
    tradeable: Sequence[str] | None = None,
) -> str | None:
    """Why the edit search does not make `text` from `parent`: the first rule of `RULES` that refuses it, named
    with what breaks it ("glue: 'in the left'"), or None when no rule refuses some single edit (of `kinds`;
    `trade` only with a judge) that makes it. A text more than one edit away is judged by the text rules alone
    (`Rule.text_rule`: those that read the text, not the edit), None when it keeps them all (`edit_kinds` tells
    which it is). longest: the most words an edit may have; vocabulary, phrases, tradeable: the material the
    search drew on, for the `material` rule (None: not known, not checked)."""
    edited = _Parent(
        words_of(parent) if isinstance(parent, str) else parent,
        grammar,
        longest,
        vocabulary=vocabulary,
        phrases=phrases,
        tradeable=tradeable,
    )
    words = words_of(text) if isinstance(text, str) else list(text)
    readings = _readings(edited, words, kinds)
    if not readings:
        edit = Edit("phrase", edited)
        edit._words = words
        rule = next((rule for rule in RULES if rule.text_rule and not rule.checks["phrase"](edit)), None)
        return None if rule is None else _named(rule, edit)
    refused = [_refused(edit, every=True) for edit in readings]
    first = refused[0]
    if first is None or None in refused:
        return None
    return _named(first, readings[0])


def edit_kinds(
    parent: str | Sequence[str], text: str | Sequence[str], grammar: CorpusGrammar, kinds: Sequence[str] = KINDS[:-1]
) -> list[str]:
    """The kinds of single edit that make `text` from `parent` (none: it is not one edit away)."""
    edited = _Parent(words_of(parent) if isinstance(parent, str) else parent, grammar)
    return list(dict.fromkeys(edit.kind for edit in _readings(edited, words_of(text) if isinstance(text, str) else list(text), kinds)))


def why(grammar: CorpusGrammar, text: str, parent: str, *, score: Callable[[list[str]], np.ndarray] | None = None, **options) -> str:
    """One line saying why the edit search does not write `text` from `parent`: the rule that refuses it;
    or, where none does, that it is not one edit away and the first text rule it breaks, or (with `score`,
    texts -> scores against the target) its score beside the parent's. options: `refusal`'s."""
    if words_of(text) == words_of(parent):
        return "it is this text"
    made_by = edit_kinds(parent, text, grammar, options.get("kinds", KINDS[:-1]))
    refused = refusal(grammar, parent, text, **options)
    if made_by and refused:
        return f"refused by {refused}"
    line = f"no rule refuses this {' or '.join(made_by)} edit" if made_by else "not one edit away"
    if refused:
        return f"{line}; it breaks {refused}"
    if score is not None:
        mine, theirs = (float(value) for value in score([text, parent]))
        line += f"; it scores {mine:.3f} against {theirs:.3f}"
    return line


def lexical_edits(words: list[str], nearest: Sequence[str]) -> list[list[str]]:
    """Each content word traded for one of `nearest` that can be the same part of speech (`parts_of_speech`),
    whether or not the corpus holds the word pairs this makes: "chef preparing food" -> "chef preparing
    onions", "chef chopping food" (the rules `function-word` and `part-of-speech`; the corpus's rules are
    the search's). Unchecked English: `EditGenerator` keeps one only where its judge reads it at least as
    fluently as the text it edits."""
    return [
        edit.words
        for edit in _trades(_Parent(words, None), nearest)
        if all(rule.checks["trade"](edit) for rule in RULES if rule.name in ("function-word", "part-of-speech"))
    ]


@functools.cache
def parts_of_speech(word: str) -> frozenset[str]:
    """The Penn Treebank tags the word can have in lemminflect's English lexicon ("onions": NNS; "chopping":
    VBG and NN); none for a word it does not hold."""
    lemminflect = _lemminflect()
    return frozenset(
        tag
        for upos, lemmas in lemminflect.getAllLemmas(word).items()
        for lemma in lemmas
        for tag, forms in lemminflect.getAllInflections(lemma, upos).items()
        if word in forms
    )


def _lemminflect():
    return require("lemminflect", extra="lexicon,llama", needed_by="the edit:lexicon generator")
