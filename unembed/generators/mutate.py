"""`mutate`: a model-free proposer that recombines, drops and swaps words and phrases.

It works from the current best candidates and the bank texts nearest the target. It needs no
model and costs nothing, which makes it an ablation (how much does the LLM add?) and a fallback
when the LLM fails. On its own it hacks the cosine with broken text ("Illustration with the
Illustration of the era"), so the loop's fluency gate should be on when it is used.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

from ..errors import GeneratorError
from .base import Generator, Proposal, ProposalRequest
from .parsing import candidate_key

# Words where one phrase ends and the next begins; cutting there keeps both halves readable.
_JOINS = frozenset(
    "with on in of and at near by under over from for while behind beside into onto through "
    "across along against during between inside outside".split()
)


def _phrase_starts(words: list[str]) -> list[int]:
    return [i for i, word in enumerate(words) if i > 0 and (word.lower() in _JOINS or words[i - 1].endswith(","))]


class MutateGenerator(Generator):
    spec = "mutate"
    needs_fluency_gate = True

    def propose(self, requests: Sequence[ProposalRequest]) -> list[Proposal]:
        return [self._propose_one(request) for request in requests]

    def _propose_one(self, request: ProposalRequest) -> Proposal:
        started = time.perf_counter()
        rng = random.Random(request.seed)
        parents = [text for _, text in request.candidates] or list(request.neighbours)
        donors = parents + list(request.neighbours)
        if not parents:
            return Proposal(texts=[], error="mutate has no candidate or neighbour to work from")
        # Better candidates are picked more often, as the LLM is told to build on high scores.
        weights = [1.0 / (rank + 1) for rank in range(len(parents))]
        operations = (self._crossover, self._drop_phrase, self._swap_word, self._drop_word)
        seen = {candidate_key(text) for text in donors}
        texts: list[str] = []
        for _ in range(request.requested * 20):
            if len(texts) >= request.requested:
                break
            parent = rng.choices(parents, weights)[0].split()
            donor = rng.choice(donors).split()
            words = rng.choice(operations)(rng, parent, donor)
            if not words or len(words) > request.max_words:
                continue
            text = " ".join(words)
            if candidate_key(text) not in seen:
                seen.add(candidate_key(text))
                texts.append(text)
        return Proposal(texts=texts, seconds=time.perf_counter() - started)

    @staticmethod
    def _crossover(rng: random.Random, parent: list[str], donor: list[str]) -> list[str]:
        """Parent's head up to a phrase boundary, then a phrase of the donor."""
        cuts, donor_cuts = _phrase_starts(parent), _phrase_starts(donor)
        if not donor_cuts:
            return []
        head = parent[: rng.choice(cuts)] if cuts else parent
        return head + donor[rng.choice(donor_cuts) :]

    @staticmethod
    def _drop_phrase(rng: random.Random, parent: list[str], donor: list[str]) -> list[str]:
        cuts = _phrase_starts(parent)
        if not cuts:
            return []
        start = rng.choice(cuts)
        ends = [cut for cut in cuts if cut > start] + [len(parent)]
        return parent[:start] + parent[ends[0] :]

    @staticmethod
    def _swap_word(rng: random.Random, parent: list[str], donor: list[str]) -> list[str]:
        """One content word of the parent replaced by a content word of the donor."""
        slots = [i for i, word in enumerate(parent) if len(word) > 3 and word.lower() not in _JOINS]
        fillers = [word for word in donor if len(word) > 3 and word.lower() not in _JOINS]
        if not slots or not fillers:
            return []
        words = list(parent)
        words[rng.choice(slots)] = rng.choice(fillers)
        return words

    @staticmethod
    def _drop_word(rng: random.Random, parent: list[str], donor: list[str]) -> list[str]:
        if len(parent) < 3:
            return []
        words = list(parent)
        del words[rng.randrange(len(words))]
        return words


def load_mutate(argument: str = "", **options) -> MutateGenerator:
    if argument or options:
        raise GeneratorError(f"the mutate generator takes no argument or option (got {argument or options!r}).")
    return MutateGenerator()
