"""The MILS loop (paper, Figure 2): bootstrap from a caption bank, then propose, score, keep the best.

    top-K  <- the bank's K texts nearest the target                        (bootstrap)
    repeat N steps (or until the best has not improved for P steps):
        new    <- the generator's texts, shown the best candidates          (propose)
        scores <- cosine of each new text with the target in the space      (score)
        top-K  <- the K best of top-K + new                                 (admit)

`invert_many` runs every target in lock step: one generator call per step for all targets
(batched or concurrent as the backend allows) and one encoder batch per step for all of them.
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..errors import BankError, InputError, SpaceMismatchError
from ..generators import (
    DEFAULT_GENERATOR, Fluency, Generator, Proposal, ProposalRequest, candidate_key, default_fluency, load_generator, with_timeout,
)
from ..index import Bank, resolve_bank
from ..spaces import Space, load_space
from ..vectors import unit_rows
from .cache import TextEmbeddingCache, cache_for
from .config import InversionConfig
from .prompts import fill_template, load_template
from .result import InversionResult, StepRecord


@dataclass(eq=False)
class _Target:
    index: int  # position in the batch; with the step, it seeds the generator
    vector: np.ndarray
    pool: dict[str, float]  # the kept candidates: text -> cosine
    neighbours: list[str]  # bank texts near the target, for model-free proposers
    seen: set[str] = field(default_factory=set)  # candidate_key of every text ever scored
    history: list[StepRecord] = field(default_factory=list)
    stale: int = 0  # steps since the best score last rose
    floor: float = float("-inf")  # fluency a new text needs to be kept

    def top(self, k: int) -> list[tuple[float, str]]:
        ranked = sorted(self.pool.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [(score, text) for text, score in ranked]


def invert(embedding, **options) -> InversionResult:
    """Say in words what `embedding` (one vector, shape (dim,)) means. Options as in `invert_many`."""
    rows = unit_rows(embedding, what="the embedding")  # checks the values (and the shape) before the space loads
    if len(rows) != 1:
        raise InputError(f"invert takes one vector of shape (dim,), got {np.shape(embedding)}. Use invert_many for a batch.")
    return invert_many(rows, **options)[0]


def invert_many(
    embeddings,
    *,
    space: str | Space = "minilm",
    bank: Bank | str | None = None,
    generator: str | Generator = DEFAULT_GENERATOR,
    fallback: str | Generator | None = None,
    fluency: Fluency | bool | None = None,
    cache: bool | TextEmbeddingCache = True,
    scorer: Callable[[list[str]], np.ndarray] | None = None,
    exclude: Sequence[str] | None = None,
    progress: bool = False,
    timeout: float | None = None,
    **settings,
) -> list[InversionResult]:
    """Invert each row of `embeddings` (n, dim) together. Returns one result per row, in order.

    space/bank/generator: a Space or spec; a Bank, bank folder, caption file or named source (default:
    the space's caption source for the modality); a Generator or spec (`llama.cpp`, `transformers:ID`,
    `openai:MODEL@URL`, `mutate`, `A+B`).
    fallback: a generator used for a target whose generator failed this step (e.g. "mutate").
    fluency: a new text that would enter the top-K is dropped when its fluency (SmolLM2 log-likelihood
        per token) is below the bootstrap text's minus `fluency_margin`, so the loop cannot hack the cosine
        with broken text: with margin 0 the returned text is at least as fluent as the bank's best.
        None (default): on when the generator (or fallback) declares `needs_fluency_gate`; True/False; or a Fluency.
    cache: True for the process-wide text-embedding cache of the space, False to re-encode every text.
    scorer: a callable with a `name` (recorded in the config) that turns candidate texts into vectors
        (n, dim) of the space, scored by cosine with the target, in place of the space's text encoder (then `cache` is ignored: each call caches its own). For
        render-and-score (unembed.arithmetic) it draws each text and embeds the picture. The bootstrap
        then ranks the bank's `keep + neighbours` nearest texts (found by text) with it.
    exclude: bank captions to skip when bootstrapping (held-out evaluation).
    progress: a progress bar, and a line on stderr for each step where the generator failed.
    timeout: seconds one step may wait on the generator (and the fallback), retries included; set on
        them (`Generator.set_timeout`). None: the generators' own (openai: 120 s; local models: unbounded).
    settings: InversionConfig's (modality, steps, requested, keep, shown, patience, seed, bootstrap,
        neighbours, fluency_margin); those left out take MILS's defaults for the modality.
    """
    space = load_space(space)
    targets = unit_rows(embeddings, space.dim, what="target embedding")
    generator = with_timeout(load_generator(generator), timeout)
    fallback = with_timeout(load_generator(fallback), timeout) if fallback is not None else None
    if fluency is None:
        fluency = generator.needs_fluency_gate or (fallback is not None and fallback.needs_fluency_gate)
    settings.setdefault("fluency_margin", 0.0)
    if fluency is False:
        settings["fluency_margin"] = None
    config = InversionConfig.resolve(
        space=space.spec, generator=generator.spec, preferred_shown=generator.shown, fallback=fallback.spec if fallback else None,
        fluency_gate=fluency is not False, scorer=scorer.name if scorer is not None else None,
        **settings,
    )
    bank = resolve_bank(bank, space, config.modality)
    if bank.dim != space.dim:
        raise SpaceMismatchError(
            f"the bank holds {bank.dim}-d vectors but space {space.spec!r} makes {space.dim}-d ones. "
            "Build the bank with the same space."
        )
    gate = default_fluency() if fluency is True else (fluency or None)
    if scorer is not None:
        embedder = TextEmbeddingCache(space, encode=scorer)
    elif isinstance(cache, TextEmbeddingCache):
        embedder = cache
    else:
        embedder = cache_for(space) if cache else TextEmbeddingCache(space, enabled=False)
    before = embedder.stats()

    states = _bootstrap(targets, bank, embedder, config, exclude, rescore=scorer is not None)
    if gate is not None:
        for state, floor in zip(states, gate.score([state.history[0].best_text for state in states])):
            state.floor = float(floor) - config.fluency_margin
    template = load_template(config.modality)
    for step in tqdm(range(1, config.steps + 1), desc="invert", unit="step", disable=not progress):
        active = [state for state in states if config.patience is None or state.stale < config.patience]
        if not active:
            break
        started = time.perf_counter()
        proposals, fell_back = _propose(active, generator, fallback, template, config, step, embedder, gate, bank.texts)
        texts, scores = _score(active, proposals, embedder)
        records = [
            _admit(state, step, proposal, fresh, scored, used_fallback, config.keep, gate)
            for state, proposal, fresh, scored, used_fallback in zip(active, proposals, texts, scores, fell_back)
        ]
        # The step's LLM round and encoder batch were shared: each target is charged an equal part.
        for state, record in zip(active, records):
            record.seconds = (time.perf_counter() - started) / len(active)
            state.history.append(record)
        if progress:
            _say_failures(step, records, generator, fallback)

    cache_stats = embedder.stats(since=before)
    return [
        InversionResult(text=state.top(1)[0][1], score=state.top(1)[0][0], top=state.top(config.keep), history=state.history,
                        config=config, cache=cache_stats)
        for state in states
    ]


def _propose(active, generator, fallback, template, config, step, embedder, gate, corpus) -> tuple[list[Proposal], list[bool]]:
    """Each target's new texts from the generator, shown its best candidates; the fallback's where it failed."""
    requests = [
        ProposalRequest(
            template=fill_template(template, state.top(config.shown), config.max_words),
            candidates=state.top(config.shown),
            neighbours=state.neighbours,
            requested=config.requested,
            max_words=config.max_words,
            seed=config.seed * 1_000_003 + state.index * 10_007 + step,
            score=functools.partial(_cosines, embedder, state.vector),
            accept=functools.partial(_fluent, gate, state.floor) if gate is not None else None,
            corpus=corpus,
        )
        for state in active
    ]
    proposals = generator.propose(requests)
    fell_back = [False] * len(active)
    if fallback is not None:
        failed = [i for i, proposal in enumerate(proposals) if not proposal.texts]
        for i, proposal in zip(failed, fallback.propose([requests[i] for i in failed])):
            proposal.calls += proposals[i].calls
            proposal.error = proposals[i].error
            proposals[i], fell_back[i] = proposal, True
    return proposals, fell_back


def _cosines(embedder: TextEmbeddingCache, target: np.ndarray, texts: list[str]) -> np.ndarray:
    return embedder.embed(texts) @ target


def _fluent(gate: Fluency, floor: float, texts: list[str]) -> np.ndarray:
    return gate.score(texts) >= floor


def _say_failures(step: int, records: list[StepRecord], generator: Generator, fallback: Generator | None) -> None:
    """One line on stderr for a step where the generator failed, so a slow or broken backend is seen as it happens."""
    troubled = [record for record in records if record.error]
    if not troubled:
        return
    rescued = sum(record.fallback and not record.failed for record in troubled)
    how = f"; the fallback {fallback.spec} proposed for {rescued}" if rescued else ""
    tqdm.write(
        f"unembed: step {step}: generator {generator.spec} reported an error for {len(troubled)} of {len(records)} "
        f"target(s){how}: {troubled[0].error}", file=sys.stderr,
    )


def _score(active, proposals, embedder) -> tuple[list[list[str]], list[list[tuple[float, str]]]]:
    """Texts no target has seen before, scored against their target in one encoder batch, best first."""
    fresh = []
    for state, proposal in zip(active, proposals):
        texts = list({candidate_key(text): text for text in proposal.texts if candidate_key(text) not in state.seen}.values())
        state.seen.update(candidate_key(text) for text in texts)
        fresh.append(texts)
    vectors = embedder.embed([text for texts in fresh for text in texts])
    scored, offset = [], 0
    for state, texts in zip(active, fresh):
        scored.append(sorted(zip(map(float, vectors[offset : offset + len(texts)] @ state.vector), texts), reverse=True))
        offset += len(texts)
    return fresh, scored


def _admit(state: _Target, step: int, proposal: Proposal, fresh: list[str], scored: list[tuple[float, str]],
           used_fallback: bool, keep: int, gate: Fluency | None) -> StepRecord:
    """The new texts that beat the K-th best (and pass the fluency gate) join the top-K."""
    best_before = max(state.pool.values())
    entering = [(score, text) for score, text in scored if len(state.pool) < keep or score > state.top(keep)[-1][0]]
    rejected = []
    if gate is not None and entering:
        # Only texts that would enter the top-K need the (slower) language model.
        fluent = _fluent(gate, state.floor, [text for _, text in entering])
        rejected = [text for (_, text), ok in zip(entering, fluent) if not ok]
        entering = [pair for pair, ok in zip(entering, fluent) if ok]
    state.pool.update((text, score) for score, text in entering)
    state.pool = dict((text, score) for score, text in state.top(keep))
    best_score, best_text = state.top(1)[0]
    state.stale = 0 if best_score > best_before + 1e-6 else state.stale + 1
    return StepRecord(
        step=step, best_text=best_text, best_score=best_score, candidates=scored,
        proposed=len(proposal.texts), rejected=rejected, llm_calls=proposal.calls, scored=len(fresh),
        prompt_tokens=proposal.prompt_tokens, completion_tokens=proposal.completion_tokens,
        failed=proposal.error is not None and not proposal.texts, error=proposal.error, fallback=used_fallback,
    )


def _bootstrap(targets, bank, embedder, config: InversionConfig, exclude, *, rescore=False) -> list[_Target]:
    """Each target's first top-K (and its neighbours) from the bank, recorded as step 0.

    rescore: rank the index's nearest texts by the embedder's scores (a custom scorer's), not the index's.
    """
    started = time.perf_counter()
    k = config.keep + config.neighbours
    if config.bootstrap == "index":
        found = bank.search(targets, k=k, exclude=exclude)
        rows = [
            [(float(score), text) for score, text, i in zip(scores, texts, ids) if i >= 0]
            for scores, texts, ids in zip(found.scores, found.texts, found.ids)
        ]
        encoded = 0
        if rescore:
            for target, row in zip(targets, rows):
                texts = [text for _, text in row]
                row[:] = sorted(zip(map(float, embedder.embed(texts) @ target), texts), key=lambda pair: -pair[0])
                encoded += len(texts)
    else:
        # MILS scores the whole bank with the encoder for every target.
        skip = set(exclude or ())
        rows, encoded = [], 0
        for target in targets:
            texts = [text for text in bank.texts if text not in skip]
            scores = embedder.embed(texts) @ target
            encoded += len(texts)
            order = np.argsort(-scores, kind="stable")[:k]
            rows.append([(float(scores[i]), texts[i]) for i in order])
    seconds = (time.perf_counter() - started) / len(targets)
    states = []
    for index, (target, row) in enumerate(zip(targets, rows)):
        if not row:
            raise BankError("the caption bank returned no text to start from. Give a bank with captions.")
        state = _Target(index=index, vector=target, pool={text: score for score, text in row[: config.keep]},
                        neighbours=[text for _, text in row], seen={candidate_key(text) for _, text in row})
        best_score, best_text = state.top(1)[0]
        state.history.append(
            StepRecord(step=0, best_text=best_text, best_score=best_score, candidates=row[: config.keep],
                       scored=encoded // len(targets), seconds=seconds)
        )
        states.append(state)
    return states
