"""The MILS loop (paper, Figure 2): bootstrap from a caption bank, then propose, score, keep the best.

    top-K  <- the bank's K best texts by the objective                     (bootstrap)
    repeat N steps (or until the best has not improved for P steps):
        new    <- the generator's texts, shown the best candidates          (propose)
        scores <- the objective's score of each new text (default: cosine   (score)
                  of its embedding with the target)
        top-K  <- the K best of top-K + new                                 (admit)

`invert_many` runs every target in lock step: one generator call per step for all targets
(batched or concurrent as the backend allows) and one encoder batch per step for all of them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .. import checks
from ..errors import BankError, InputError, SpaceMismatchError
from ..generators import (
    Fluency,
    Generator,
    Proposal,
    ProposalRequest,
    candidate_key,
    default_fluency,
    default_generator,
    load_generator,
    plain_text,
    with_timeout,
)
from ..index import Bank, resolve_bank
from ..objectives import Cosine, Objective
from ..spaces import Space, TextEmbeddingCache, cache_for, load_space
from ..vectors import unit_rows
from .config import InversionConfig
from .prompts import fill_template, load_template
from .result import InversionResult, StepRecord

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Target:
    key: int  # drawn from the target itself (`_target_key`); with the seed and the step, it seeds the generator
    objective: Objective
    pool: dict[str, float]  # the kept candidates: text -> the objective's score
    neighbours: list[str]  # bank texts the objective ranks high, for model-free proposers
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
    embeddings=None,
    *,
    objective: Objective | Sequence[Objective] | None = None,
    space: str | Space = "minilm",
    bank: Bank | str | None = None,
    generator: str | Generator | None = None,
    fallback: str | Generator | None = None,
    fluency: Fluency | bool | None = None,
    cache: bool | TextEmbeddingCache = True,
    exclude: Sequence[str] | None = None,
    progress: bool = False,
    timeout: float | None = None,
    on_step: Callable[[int, dict[int, StepRecord]], None] | None = None,
    **settings,
) -> list[InversionResult]:
    """Invert each row of `embeddings` (n, dim) together. Returns one result per row, in order.

    objective: instead of `embeddings`, what to maximise (unembed.objectives): an Objective, or one per
        target. `embeddings` means the cosine objective for each row. A result's `score` is its
        objective's value, and `config.objective` its spec.

    space/bank/generator: a Space or spec; a Bank, bank folder, caption file or named source (default:
    the space's caption source for the modality); a Generator or spec (`decoder`, `edit`, `llama.cpp`,
    `transformers:ID`, `openai:MODEL@URL`, `mutate`, `A+B`; default: `decoder+edit` where unembed ships
    a decoder for the space, else `edit`: `unembed.generators.default_generator`).
    fallback: a generator used for a target whose generator failed this step (e.g. "mutate").
    fluency: a new text that would enter the top-K is dropped when its fluency (SmolLM2 log-likelihood
        per token) is below the bootstrap text's minus `fluency_margin`, so the loop cannot hack the cosine
        with broken text: with margin 0 the returned text is at least as fluent as the bank's best.
        None (default): on when the generator (or fallback) declares `needs_fluency_gate`; True/False; or a Fluency.
    cache: True for the process-wide text-embedding cache of the space, False to re-encode every text.
    exclude: bank captions to skip when bootstrapping (held-out evaluation).
    progress: a progress bar, and a warning (logger `unembed.inverter.loop`) for each step where the generator failed.
    timeout: seconds one step may wait on the generator (and the fallback), retries included; set on
        them (`Generator.set_timeout`). None: the generators' own (openai: 120 s; local models: unbounded).
    on_step: called after the bootstrap (step 0) and after each step with the step and {target index: its
        StepRecord} for the targets that took part, so a caller can show the search as it climbs. An exception
        it raises stops the inversion and propagates (how a web page cancels a job or enforces its deadline).
    settings: InversionConfig's (modality, steps, requested, keep, shown, patience, seed, bootstrap,
        neighbours, fluency_margin, min_gain, record_refusals); those left out take MILS's defaults for the modality.
        record_refusals=True: each step's record counts the candidate edits each rule of the edit generator
        refused (`StepRecord.refusals`, "glue": 130, ...); other generators count none.
    """
    space = load_space(space)
    objectives = _objectives(embeddings, objective, space)
    generator = with_timeout(load_generator(generator or default_generator(space)), timeout)
    fallback = with_timeout(load_generator(fallback), timeout) if fallback is not None else None
    for member in (generator, fallback):
        if member is not None:
            member.attach(space)
    if fluency is None:
        fluency = generator.needs_fluency_gate or (fallback is not None and fallback.needs_fluency_gate)
    settings.setdefault("fluency_margin", 0.0)
    if settings["fluency_margin"] is not None:
        # Checked before the gate decides whether it is used: a NaN margin is a mistake even where no gate runs.
        margin = checks.number(settings["fluency_margin"], "fluency_margin")
        if fluency is False:
            if margin != 0:
                raise InputError(
                    f"fluency_margin {margin:g} applies only with the fluency gate, which is off "
                    f"(generator {generator.spec}{', fallback ' + fallback.spec if fallback else ''}); "
                    "turn the gate on (--fluency) or drop the margin."
                )
            settings["fluency_margin"] = None
    config = InversionConfig.resolve(
        space=space.spec,
        generator=generator.spec,
        preferred_shown=generator.shown,
        fallback=fallback.spec if fallback else None,
        fluency_gate=fluency is not False,
        **settings,
    )
    bank = resolve_bank(bank, space, config.modality)
    if bank.dim != space.dim:
        raise SpaceMismatchError(
            f"the bank holds {bank.dim}-d vectors but space {space.spec!r} makes {space.dim}-d ones. Build the bank with the same space."
        )
    gate = default_fluency() if fluency is True else (fluency or None)
    if isinstance(cache, TextEmbeddingCache):
        embedder = cache
    else:
        embedder = cache_for(space) if cache else TextEmbeddingCache(space, enabled=False)
    for each in objectives:
        each.bind(embedder)
    embedders = _embedders(objectives)
    before = [each.stats() for each in embedders]

    states = _bootstrap(objectives, bank, config, exclude)
    place = {id(state): i for i, state in enumerate(states)}  # a target's index, for on_step
    if on_step is not None:
        on_step(0, {i: state.history[0] for i, state in enumerate(states)})
    if gate is not None:
        for state, floor in zip(states, gate.score([state.history[0].best_text for state in states]), strict=True):
            state.floor = float(floor) - (config.fluency_margin or 0.0)
    template = load_template(config.modality)
    for step in tqdm(range(1, config.steps + 1), desc="invert", unit="step", disable=not progress):
        active = [state for state in states if config.patience is None or state.stale < config.patience]
        if not active:
            break
        started = time.perf_counter()
        proposals, fell_back = _propose(active, generator, fallback, template, config, step, gate, bank.texts)
        texts, scores = _score(active, proposals)
        records = [
            _admit(state, step, proposal, fresh, scored, used_fallback, config.keep, gate)
            for state, proposal, fresh, scored, used_fallback in zip(active, proposals, texts, scores, fell_back, strict=True)
        ]
        # The step's LLM round and encoder batch were shared: each target is charged an equal part.
        for state, record in zip(active, records, strict=True):
            record.seconds = (time.perf_counter() - started) / len(active)
            state.history.append(record)
        if progress:
            _say_failures(step, records, generator, fallback)
        if on_step is not None:
            on_step(step, {place[id(state)]: record for state, record in zip(active, records, strict=True)})

    hits, misses = (sum(each.stats(since=then)[key] for each, then in zip(embedders, before, strict=True)) for key in ("hits", "misses"))
    cache_stats = {"hits": hits, "misses": misses, "hit_rate": hits / (hits + misses) if hits + misses else 0.0}
    return [
        InversionResult(
            *_answer(state, config.min_gain),
            top=state.top(config.keep),
            history=state.history,
            config=dataclasses.replace(config, objective=state.objective.spec),
            cache=cache_stats,
        )
        for state in states
    ]


def _answer(state: _Target, min_gain: float) -> tuple[str, float]:
    """The best text and its score; the bank's best when the loop's beats it by less than `min_gain` (a tie)."""
    score, text = state.top(1)[0]
    bank = state.history[0]
    return (bank.best_text, bank.best_score) if score - bank.best_score < min_gain else (text, score)


def _objectives(embeddings, objective, space: Space) -> list[Objective]:
    """What each target maximises, checked against the space before anything else loads."""
    if objective is None:
        if embeddings is None:
            raise InputError("invert_many needs embeddings (n, dim) or objective=. Give the vectors to invert, or an Objective.")
        return [Cosine(row) for row in unit_rows(embeddings, space.dim, what="target embedding")]
    if embeddings is not None:
        raise InputError("invert_many got both embeddings and objective=. Give one: embeddings mean the cosine objective for each row.")
    objectives = [objective] if isinstance(objective, Objective) else list(objective) if isinstance(objective, (list, tuple)) else None
    if not objectives or not all(isinstance(each, Objective) for each in objectives):
        raise InputError(
            f"objective must be an Objective or a non-empty list of them (one per target); got {objective!r}. "
            "Make one with unembed.load_objective(...)."
        )
    for each in objectives:
        each.check(space)
    return objectives


def _embedders(objectives: list[Objective]) -> list:
    """The distinct embedders the objectives score through (the loop's cache, a renderer's own), in order."""
    return list({id(each.embedder): each.embedder for each in objectives}.values())


def _propose(active, generator, fallback, template, config, step, gate, corpus) -> tuple[list[Proposal], list[bool]]:
    """Each target's new texts from the generator, shown its best candidates; the fallback's where it failed."""
    requests = [
        ProposalRequest(
            template=fill_template(template, state.top(config.shown), config.max_words),
            candidates=state.top(config.shown),
            neighbours=state.neighbours,
            requested=config.requested,
            max_words=config.max_words,
            seed=config.seed * 1_000_003 + state.key * 10_007 + step,
            score=state.objective.score,
            accept=functools.partial(_fluent, gate, state.floor) if gate is not None else None,
            corpus=corpus,
            record_refusals=config.record_refusals,
            target=state.objective.query(),
            embed=state.objective.embed,
        )
        for state in active
    ]
    proposals = generator.propose(requests)
    fell_back = [False] * len(active)
    if fallback is not None:
        failed = [i for i, proposal in enumerate(proposals) if not proposal.texts]
        for i, proposal in zip(failed, fallback.propose([requests[i] for i in failed]), strict=True):
            proposal.calls += proposals[i].calls
            proposal.error = proposals[i].error
            proposals[i], fell_back[i] = proposal, True
    for proposal in proposals:  # whatever wrote them: no control characters or secrets reach a result
        proposal.texts = [text for text in map(plain_text, proposal.texts) if text]
    return proposals, fell_back


def _fluent(gate: Fluency, floor: float, texts: list[str]) -> np.ndarray:
    return gate.score(texts) >= floor


def _say_failures(step: int, records: list[StepRecord], generator: Generator, fallback: Generator | None) -> None:
    """A warning (logged) for a step where the generator failed, so a slow or broken backend is seen as it happens."""
    troubled = [record for record in records if record.error]
    if not troubled:
        return
    rescued = sum(record.fallback and not record.failed for record in troubled)
    how = f"; the fallback {fallback.spec} proposed for {rescued}" if rescued and fallback is not None else ""
    log.warning(
        "step %d: generator %s reported an error for %d of %d target(s)%s: %s",
        step,
        generator.spec,
        len(troubled),
        len(records),
        how,
        troubled[0].error,
    )


def _score(active, proposals) -> tuple[list[list[str]], list[list[tuple[float, str]]]]:
    """Texts no target has seen before, scored by their target's objective, best first.

    The texts of all targets that share an embedder are embedded in one batch.
    """
    fresh = []
    for state, proposal in zip(active, proposals, strict=True):
        texts = list({candidate_key(text): text for text in proposal.texts if candidate_key(text) not in state.seen}.values())
        state.seen.update(candidate_key(text) for text in texts)
        fresh.append(texts)
    scores: list[np.ndarray] = [np.zeros(0)] * len(active)
    for embedder in _embedders([state.objective for state in active]):
        mine = [i for i, state in enumerate(active) if state.objective.embedder is embedder]
        vectors, offset = embedder.embed([text for i in mine for text in fresh[i]]), 0
        for i in mine:
            scores[i] = active[i].objective.score_embedded(vectors[offset : offset + len(fresh[i])])
            offset += len(fresh[i])
    scored = [sorted(zip(map(float, values), texts, strict=True), reverse=True) for values, texts in zip(scores, fresh, strict=True)]
    return fresh, scored


def _admit(
    state: _Target,
    step: int,
    proposal: Proposal,
    fresh: list[str],
    scored: list[tuple[float, str]],
    used_fallback: bool,
    keep: int,
    gate: Fluency | None,
) -> StepRecord:
    """The new texts that beat the K-th best (and pass the fluency gate) join the top-K."""
    best_before = max(state.pool.values())
    entering = [(score, text) for score, text in scored if len(state.pool) < keep or score > state.top(keep)[-1][0]]
    rejected = []
    if gate is not None and entering:
        # Only texts that would enter the top-K need the (slower) language model.
        fluent = _fluent(gate, state.floor, [text for _, text in entering])
        rejected = [text for (_, text), ok in zip(entering, fluent, strict=True) if not ok]
        entering = [pair for pair, ok in zip(entering, fluent, strict=True) if ok]
    state.pool.update((text, score) for score, text in entering)
    state.pool = dict((text, score) for score, text in state.top(keep))
    best_score, best_text = state.top(1)[0]
    state.stale = 0 if best_score > best_before + 1e-6 else state.stale + 1
    return StepRecord(
        step=step,
        best_text=best_text,
        best_score=best_score,
        candidates=scored,
        proposed=len(proposal.texts),
        rejected=rejected,
        admitted=[text for _, text in entering if text in state.pool],
        llm_calls=proposal.calls,
        scored=len(fresh),
        prompt_tokens=proposal.prompt_tokens,
        completion_tokens=proposal.completion_tokens,
        failed=proposal.error is not None and not proposal.texts,
        error=proposal.error,
        fallback=used_fallback,
        refusals=dict(proposal.refusals),
    )


def _target_key(objective: Objective) -> int:
    """A number drawn from what the objective aims at (its query vector, in float32), not from the target's
    place in the batch: a target gets the same proposals whichever batch or worker inverts it."""
    digest = hashlib.blake2b(np.ascontiguousarray(objective.query(), dtype=np.float32).tobytes(), digest_size=3)
    return int.from_bytes(digest.digest(), "big")


def _bootstrap(objectives: list[Objective], bank, config: InversionConfig, exclude) -> list[_Target]:
    """Each target's first top-K (and its neighbours) from the bank, ranked by its objective, recorded as step 0.

    "index": the index is searched with each objective's query vector for `keep + neighbours` texts,
    which the objective then re-ranks (unless the index's score already is the objective's: cosine).
    """
    started = time.perf_counter()
    k = config.keep + config.neighbours
    if config.bootstrap == "index":
        found = bank.search(np.stack([each.query() for each in objectives]).astype(np.float32), k=k, exclude=exclude)
        rows = [
            [(float(score), text) for score, text, i in zip(scores, texts, ids, strict=False) if i >= 0]
            for scores, texts, ids in zip(found.scores, found.texts, found.ids, strict=True)
        ]
        encoded = 0
        for each, row in zip(objectives, rows, strict=True):
            if not each.ranked_by_index and row:
                texts = [text for _, text in row]
                row[:] = sorted(zip(map(float, each.score(texts)), texts, strict=True), key=lambda pair: -pair[0])
                encoded += len(texts)
    else:
        # MILS scores the whole bank with the encoder for every target.
        skip = set(exclude or ())
        rows, encoded = [], 0
        for each in objectives:
            texts = [text for text in bank.texts if text not in skip]
            scores = each.score(texts)
            encoded += len(texts)
            order = np.argsort(-scores, kind="stable")[:k]
            rows.append([(float(scores[i]), texts[i]) for i in order])
    seconds = (time.perf_counter() - started) / len(objectives)
    states = []
    for each, row in zip(objectives, rows, strict=True):
        if not row:
            if exclude:
                raise BankError(f"exclude leaves the bank no caption to start from ({len(set(exclude))} excluded): exclude fewer.")
            raise BankError("the caption bank returned no text to start from. Give a bank with captions.")
        state = _Target(
            key=_target_key(each),
            objective=each,
            pool={text: score for score, text in row[: config.keep]},
            neighbours=[text for _, text in row],
            seen={candidate_key(text) for _, text in row},
        )
        best_score, best_text = state.top(1)[0]
        state.history.append(
            StepRecord(
                step=0,
                best_text=best_text,
                best_score=best_score,
                candidates=row[: config.keep],
                admitted=[text for _, text in row[: config.keep]],
                scored=encoded // len(objectives),
                seconds=seconds,
            )
        )
        states.append(state)
    return states
