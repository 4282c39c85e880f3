"""The `edit` generator: beam search over the single edits `RULES` lets stand, scored with the request's
scorer; its tuning numbers (`EditSettings`) and its factory (`load_edit`: `edit`, `edit:lexicon`)."""

from __future__ import annotations

import functools
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from ... import checks
from ...corpus.grammar import SHARED_CONTEXTS, SHARED_SHARE, CorpusGrammar, grammar_for, join_words, phrases_of, words_of
from ...errors import GeneratorError, InputError, WeightsNotFoundError
from ...registry import format_spec
from ..base import Generator, Proposal, ProposalRequest
from ..fluency import Fluency, default_fluency
from ..llama_cpp import default_gguf
from ..parsing import candidate_key
from .rules import KINDS, RULES, _candidates, _kept, _lemminflect, _Parent, _trades, why

# edit's beam, and edit:lexicon's, wider: its trades open far more paths than the bank's word pairs allow,
# and a narrow beam commits to the first that scores well (measured: README, *Words the bank never put together*).
EDIT_BEAM = 3
LEXICON_BEAM = 8


@dataclass(frozen=True)
class EditSettings:
    """The edit generator's tuning numbers (README, *Composing what the bank does not hold*).

    beam: texts kept between rounds (None: EDIT_BEAM, or LEXICON_BEAM with a judge); rounds: edit rounds per
    call; vocabulary: how many of the corpus's words nearest the target join the words of the bank
    neighbours; checks: at most this many texts per round are put to the judge and the loop's gate
    (`ProposalRequest.accept`) to pick a beam they would keep; trades: how many words nearest the target a
    judge lets it trade in (`lexical_edits`); shared_contexts, shared_share: two content words are alike
    (`CorpusGrammar.alike`) when they share at least `shared_contexts` contexts and at least `shared_share`
    of the rarer one's (one shared context lets "right" stand in for "color" through a single stray caption).
    """

    beam: int | None = None
    rounds: int = 3
    vocabulary: int = 40
    checks: int = 30
    trades: int = 15
    shared_contexts: int = SHARED_CONTEXTS
    shared_share: float = SHARED_SHARE

    def __post_init__(self):
        minimums = {"beam": 1, "rounds": 1, "vocabulary": 0, "checks": 0, "trades": 0, "shared_contexts": 0}
        try:
            for name, minimum in minimums.items():
                if name != "beam" or self.beam is not None:
                    value = checks.count(getattr(self, name), name, minimum=minimum, maximum=checks.COUNT_LIMIT)
                    object.__setattr__(self, name, value)
            share = checks.number(self.shared_share, "shared_share")
        except InputError as error:
            raise GeneratorError(f"the edit generator's {error}") from None
        if not 0 <= share <= 1:
            raise GeneratorError(f"the edit generator's shared_share is a share of contexts, from 0 to 1; got {share}.")
        object.__setattr__(self, "shared_share", share)

    def beam_for(self, judged: bool) -> int:
        """The beam: the one set, or the default for a generator with a judge (edit:lexicon) or without."""
        return self.beam if self.beam is not None else LEXICON_BEAM if judged else EDIT_BEAM

    def changed(self, judged: bool) -> dict:
        """The settings that differ from the defaults (the beam's for a generator with or without a judge), in order."""
        default = EditSettings()
        return {
            field.name: getattr(self, field.name)
            for field in fields(self)
            if (
                self.beam_for(judged) != default.beam_for(judged)
                if field.name == "beam"
                else getattr(self, field.name) != getattr(default, field.name)
            )
        }


class EditGenerator(Generator):
    """Beam search over single edits of the best texts, scored in the space (see the module docstring).

    settings: its tuning numbers (`EditSettings`; keyword arguments set single ones: `rounds=1`); judge: a
    Fluency that enables word trades (`lexical_edits`) with the `trades` words nearest the target, each
    kept only where the judge reads it at least as fluently as the text it edits (`edit:lexicon`: SmolLM2).
    """

    # Its edits keep to the bank's own word pairs and triples; SmolLM2's fluency judges worse here: it
    # scores "quiet low-pitched birds chirping slowly" below a 14-word salad (README, open world).
    needs_fluency_gate = False

    def __init__(self, settings: EditSettings | None = None, *, judge: Fluency | None = None, **options):
        unknown = set(options) - {field.name for field in fields(EditSettings)}
        if unknown:
            raise GeneratorError(f"the edit generator has no setting {', '.join(sorted(unknown))}. Its options: {_option_names()}.")
        self.settings = replace(settings or EditSettings(), **options)
        self.judge = judge
        self.beam = self.settings.beam_for(judge is not None)
        spec_options = self.settings.changed(judge is not None)
        judge_path = getattr(judge, "model_path", None)
        if judge_path is not None and str(judge_path) != _default_judge_path():
            spec_options["judge"] = str(judge_path)
        self.spec = format_spec("edit", "lexicon" if judge is not None else "", spec_options)
        self._grammars: dict[int, tuple[Sequence[str], CorpusGrammar]] = {}

    def grammar(self, corpus: Sequence[str]) -> CorpusGrammar:
        """The corpus's CorpusGrammar, found once per corpus object (a bank's texts do not change): the one the corpus
        carries (`corpus.grammar`: a bank's, opened from its grammar files), else one built from its texts (`grammar_for`)."""
        if id(corpus) not in self._grammars or self._grammars[id(corpus)][0] is not corpus:
            grammar = grammar_for(corpus, shared_contexts=self.settings.shared_contexts, shared_share=self.settings.shared_share)
            self._grammars[id(corpus)] = (corpus, grammar)
        return self._grammars[id(corpus)][1]

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of edit it makes: trades only with a judge."""
        return KINDS if self.judge is not None else KINDS[:-1]

    def why(
        self,
        text: str,
        parent: str,
        corpus: Sequence[str],
        *,
        neighbours: Sequence[str] | None = None,
        longest: int | None = None,
        score: Callable[[list[str]], np.ndarray] | None = None,
    ) -> str:
        """One line: why it does not write `text` from `parent` with this corpus (the module's `why`). With the
        bank neighbours it was handed and `score` (texts -> scores against the target), its material is known
        too: what it drew on, as `_propose_one` draws it."""
        grammar, material = self.grammar(corpus), {}
        if neighbours is not None and score is not None:
            material = dict(zip(("vocabulary", "phrases", "tradeable"), self._material(grammar, neighbours, score), strict=True))
        return why(grammar, text, parent, kinds=self.kinds, longest=longest, score=score, **material)

    def _material(self, grammar: CorpusGrammar, neighbours: Sequence[str], score: Callable[[list[str]], np.ndarray]):
        """The words, phrases and trades it draws on for a target (`score`) with these bank neighbours."""
        settings = self.settings
        # Words and phrases come from the bank's texts only: the loop's own candidates may already hold
        # an edit the scorer liked for the wrong reason, and copying its parts would spread it.
        vocabulary = dict.fromkeys(word for text in neighbours for word in words_of(text))
        wanted = max(settings.vocabulary, settings.trades if self.judge else 0)
        nearest = _nearest_words(score, grammar.words, wanted) if wanted else []
        vocabulary.update(dict.fromkeys(nearest[: settings.vocabulary]))
        phrases = list(dict.fromkeys(phrase for text in neighbours for phrase in phrases_of(words_of(text))))
        return list(vocabulary), phrases, nearest[: settings.trades] if self.judge else []

    def propose(self, requests: Sequence[ProposalRequest]) -> list[Proposal]:
        return [self._propose_one(request) for request in requests]

    def _propose_one(self, request: ProposalRequest) -> Proposal:
        started = time.perf_counter()
        if request.score is None:
            return Proposal(texts=[], error="edit needs a scorer on the request (the loop gives one); none was given")
        counts: Counter[str] | None = Counter() if request.record_refusals else None
        local = [text for _, text in request.candidates] + list(request.neighbours)
        grammar = self.grammar(request.corpus or request.neighbours)
        vocabulary, phrases, tradeable = self._material(grammar, request.neighbours, request.score)
        # The prompt's word cap is for LLMs; an edit may be as long as the texts it is made from.
        longest = max([request.max_words, *(len(words_of(text)) for text in local)])
        scores: dict[str, float] = {}
        verdicts: dict[str, bool] = {}  # the judge's and the loop's gate's verdicts on the texts checked so far
        trades: dict[str, str] = {}  # word trades (`lexical_edits`) -> the text each edits, for the judge
        known = {candidate_key(text) for text in local}
        beam = [words_of(text) for _, text in request.candidates[: self.beam]]
        for _ in range(self.settings.rounds):
            fresh: dict[str, None] = {}
            for words in beam:
                parent = _Parent(words, grammar, longest)
                made = _kept(_candidates(parent, vocabulary, phrases), counts)
                traded = _kept(_trades(parent, tradeable), counts)
                for edit, is_trade in [*((edit, False) for edit in made), *((edit, True) for edit in traded)]:
                    text = join_words(edit)
                    if text not in scores and text not in fresh:
                        fresh[text] = None
                        if is_trade:
                            trades.setdefault(text, join_words(words))
            if not fresh:
                break
            texts = list(fresh)
            scores.update(zip(texts, map(float, request.score(texts)), strict=True))
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
        refusals = {rule.name: counts[rule.name] for rule in RULES if counts[rule.name]} if counts is not None else {}
        return Proposal(texts=texts, seconds=time.perf_counter() - started, refusals=refusals)

    def _admissible(self, ranked: list[str], request: ProposalRequest, verdicts: dict[str, bool], trades: dict[str, str]) -> list[str]:
        """The best `beam` texts of `ranked` that would be kept, judging at most `checks` of them (`_judge`)."""
        picked, checked = [], 0
        for start in range(0, len(ranked), self.beam):
            chunk = ranked[start : start + self.beam]
            unjudged = [text for text in chunk if text not in verdicts and (request.accept is not None or text in trades)]
            if unjudged:
                if checked >= self.settings.checks:
                    break
                verdicts.update(zip(unjudged, self._judge(unjudged, request, trades), strict=True))
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
            assert self.judge is not None, "word trades are made only with a judge"
            fluency = self.judge.score([texts[i] for i in traded] + [trades[texts[i]] for i in traded])
            keep[traded] = fluency[: len(traded)] >= fluency[len(traded) :]
        if request.accept is not None and keep.any():
            keep[keep] = np.asarray(request.accept([text for text, kept in zip(texts, keep, strict=True) if kept]), dtype=bool)
        return keep.tolist()


def _nearest_words(score: Callable[[list[str]], np.ndarray], words: list[str], count: int) -> list[str]:
    """The `count` words the target's objective (`score`) scores highest (nearest the target, for cosine): the
    corpus seen through the scorer."""
    scores = score(words)
    return [words[i] for i in np.argsort(-scores, kind="stable")[:count]]


def _option_names() -> str:
    return ", ".join([*(field.name for field in fields(EditSettings)), "judge (a GGUF model file: edit:lexicon's judge)"])


def _default_judge_path() -> str | None:
    try:
        return str(default_gguf())
    except WeightsNotFoundError:
        return None


@functools.lru_cache(maxsize=4)
def _judge_at(path: str) -> Fluency:
    """One Fluency judge per GGUF file per process (the default: `default_fluency`'s)."""
    return default_fluency() if path == _default_judge_path() else Fluency(path)


def load_edit(argument: str = "", *, judge: Fluency | str | os.PathLike | None = None, **options) -> EditGenerator:
    """`edit`, or `edit:lexicon`: also word trades judged by SmolLM2 (needs the lexicon and llama extras), or by
    the GGUF model `judge` names (`edit:lexicon,judge=/models/qwen.gguf`). Options: EditSettings's fields."""
    if argument not in ("", "lexicon"):
        raise GeneratorError(
            f"the edit generator's argument is 'lexicon' or none (got {argument!r}): edit, or edit:lexicon; "
            f"options follow commas (edit,beam=5). Its options: {_option_names()}."
        )
    unknown = set(options) - {field.name for field in fields(EditSettings)}
    if unknown:
        raise GeneratorError(f"the edit generator has no option {', '.join(sorted(unknown))}. Its options: {_option_names()}.")
    if isinstance(judge, bool) or (
        judge is not None and not isinstance(judge, (str, os.PathLike)) and not callable(getattr(judge, "score", None))
    ):
        raise GeneratorError(f"the edit generator's judge is a GGUF model file (judge=/path/model.gguf) or a Fluency; got {judge!r}.")
    settings = EditSettings(**options)  # checked before a judge loads
    if argument or judge is not None:
        _lemminflect()  # installed, before any target is searched
        judge = default_fluency() if judge is None else _judge_at(str(judge)) if isinstance(judge, (str, os.PathLike)) else judge
    return EditGenerator(settings, judge=judge)
