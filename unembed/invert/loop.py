"""The MILS loop (paper, Figure 2): bootstrap from a caption bank, then propose, score, keep the best.

    top-K  <- the bank's K texts nearest the target
    repeat N steps (or until the best has not improved for P steps):
        prompt <- "score: text" lines of the best candidates, best first
        new    <- the generator's numbered lines, minus duplicates and texts already seen
        top-K  <- the K best of top-K + new, scored by cosine with the target in the space

`invert_many` runs every target in lock step: one generator call per step for all targets
(batched or concurrent as the backend allows) and one encoder batch per step for all of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..errors import BankError, InputError, SpaceMismatchError
from ..generators import DEFAULT_GENERATOR, Generator, ProposalRequest, load_generator
from ..generators.parsing import candidate_key
from ..spaces import Space, load_space
from ..vectors import unit_rows
from .cache import TextEmbeddingCache, cache_for
from .fluency import Fluency, default_fluency
from .prompts import DEFAULTS, fill_template, load_template
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
    vector = np.asarray(embedding, dtype=np.float32)
    if vector.ndim == 2 and vector.shape[0] == 1:
        vector = vector[0]
    if vector.ndim != 1:
        raise InputError(f"invert takes one vector of shape (dim,), got {vector.shape}. Use invert_many for a batch.")
    return invert_many(vector[None, :], **options)[0]


def invert_many(
    embeddings,
    *,
    space: str | Space = "minilm",
    bank,
    generator: str | Generator = DEFAULT_GENERATOR,
    modality: str = "image",
    steps: int | None = None,
    requested: int | None = None,
    keep: int | None = None,
    shown: int | None = None,
    patience: int | None = 3,
    seed: int = 0,
    exclude: Sequence[str] | None = None,
    fallback: str | Generator | None = None,
    fluency: Fluency | bool | None = None,
    fluency_margin: float = 0.0,
    neighbours: int = 20,
    cache: bool | TextEmbeddingCache = True,
    bootstrap: str = "index",
    scorer: Callable[[list[str]], np.ndarray] | None = None,
    progress: bool = False,
) -> list[InversionResult]:
    """Invert each row of `embeddings` (n, dim) together. Returns one result per row, in order.

    space/bank/generator: a Space or spec; a caption bank (unembed.index.Bank); a Generator or spec
    (`llama.cpp`, `llama.cpp:/m.gguf`, `transformers:ID`, `openai:MODEL@URL`, `mutate`).
    modality: picks the prompt and MILS's defaults for steps, requested, keep (image, audio, text).
    shown: candidates listed in the prompt (default: the generator's preference, else all kept).
    patience: stop a target after this many steps without a better best text (None: run all steps).
    exclude: bank captions to skip when bootstrapping (held-out evaluation).
    fallback: a generator used for a target whose generator failed this step (e.g. "mutate").
    fluency / fluency_margin: a new text that would enter the top-K is dropped when its fluency (SmolLM2
        log-likelihood per token) is below the bootstrap text's minus `fluency_margin`, so the loop cannot
        hack the cosine with broken text: with margin 0 the returned text is at least as fluent as the
        bank's best. None (default): on when `mutate` proposes; True/False: on/off; or a Fluency.
    cache: True for the process-wide text-embedding cache of the space, False to re-encode every text.
    bootstrap: "index" searches the bank's index; "encode" re-encodes every bank text (MILS reference).
    scorer: turns candidate texts into vectors (n, dim) of the space, scored by cosine with the target,
        in place of the space's text encoder (then `cache` is ignored: each call caches its own). For
        render-and-score (unembed.arithmetic.render) it draws each text and embeds the picture. The
        bootstrap then ranks the bank's `keep + neighbours` nearest texts (found by text) with it.
    """
    space = load_space(space)
    targets = unit_rows(embeddings, space.dim, what="target embedding")
    if bank.dim != space.dim:
        raise SpaceMismatchError(
            f"the bank holds {bank.dim}-d vectors but space {space.spec!r} makes {space.dim}-d ones. "
            "Build the bank with the same space."
        )
    template = load_template(modality)
    defaults = DEFAULTS[modality]
    steps = defaults.steps if steps is None else steps
    requested = requested or defaults.requested
    keep = keep or defaults.keep
    generator = load_generator(generator)
    fallback = load_generator(fallback) if fallback is not None else None
    if fluency is None:
        fluency = "mutate" in generator.spec.split("+") or (fallback is not None and fallback.spec == "mutate")
    if fluency is True:
        fluency = default_fluency()
    fluency = fluency or None
    shown = shown or min(keep, getattr(generator, "prompt_candidates", None) or keep)
    if scorer is not None:
        embedder = TextEmbeddingCache(space, encode=scorer)
    elif isinstance(cache, TextEmbeddingCache):
        embedder = cache
    else:
        embedder = cache_for(space) if cache else TextEmbeddingCache(space, enabled=False)
    hits_before, misses_before = embedder.hits, embedder.misses
    config = dict(
        space=space.spec, generator=generator.spec, modality=modality, steps=steps, requested=requested,
        keep=keep, shown=shown, patience=patience, seed=seed, bootstrap=bootstrap,
        fallback=fallback.spec if fallback else None, fluency_margin=fluency_margin if fluency is not None else None,
        scorer=getattr(scorer, "name", type(scorer).__name__) if scorer is not None else None,
    )

    states = _bootstrap(targets, bank, embedder, keep, neighbours, exclude, bootstrap, rescore=scorer is not None)
    if fluency is not None:
        floors = fluency.score([state.history[0].best_text for state in states])
        for state, floor in zip(states, floors):
            state.floor = float(floor) - fluency_margin

    for step in tqdm(range(1, steps + 1), desc="invert", unit="step", disable=not progress):
        active = [state for state in states if patience is None or state.stale < patience]
        if not active:
            break
        started = time.perf_counter()
        requests = [
            ProposalRequest(
                template=fill_template(template, state.top(shown), defaults.max_words),
                candidates=state.top(shown),
                neighbours=state.neighbours,
                requested=requested,
                max_words=defaults.max_words,
                seed=seed * 1_000_003 + state.index * 10_007 + step,
            )
            for state in active
        ]
        proposals = generator.propose(requests)
        fell_back = [False] * len(active)
        if fallback is not None:
            failed = [i for i, proposal in enumerate(proposals) if proposal.error]
            for i, proposal in zip(failed, fallback.propose([requests[i] for i in failed])):
                proposal.calls += proposals[i].calls
                proposal.error = proposals[i].error
                proposals[i], fell_back[i] = proposal, True

        # New texts: not seen before by this target. One encoder batch for all targets of the step.
        fresh = []
        for state, proposal in zip(active, proposals):
            texts = list({candidate_key(text): text for text in proposal.texts if candidate_key(text) not in state.seen}.values())
            state.seen.update(candidate_key(text) for text in texts)
            fresh.append(texts)
        vectors = embedder.embed([text for texts in fresh for text in texts])

        offset, records = 0, []
        for state, proposal, texts, fallback_used in zip(active, proposals, fresh, fell_back):
            scored = sorted(zip(map(float, vectors[offset : offset + len(texts)] @ state.vector), texts), reverse=True)
            offset += len(texts)
            best_before = max(state.pool.values())
            entering = [(score, text) for score, text in scored if len(state.pool) < keep or score > state.top(keep)[-1][0]]
            rejected = []
            if fluency is not None and entering:
                # Only texts that would enter the top-K need the (slower) language model.
                fluent = fluency.score([text for _, text in entering]) >= state.floor
                rejected = [text for (_, text), ok in zip(entering, fluent) if not ok]
                entering = [pair for pair, ok in zip(entering, fluent) if ok]
            state.pool.update((text, score) for score, text in entering)
            state.pool = dict((text, score) for score, text in state.top(keep))
            best_score, best_text = state.top(1)[0]
            state.stale = 0 if best_score > best_before + 1e-6 else state.stale + 1
            records.append(
                StepRecord(
                    step=step, best_text=best_text, best_score=best_score, candidates=scored,
                    proposed=len(proposal.texts), rejected=rejected, llm_calls=proposal.calls, scored=len(texts),
                    prompt_tokens=proposal.prompt_tokens, completion_tokens=proposal.completion_tokens,
                    failed=proposal.error is not None and not proposal.texts,
                    error=proposal.error, fallback=fallback_used,
                )
            )
        # The step's LLM round and encoder batch were shared: each target is charged an equal part.
        for state, record in zip(active, records):
            record.seconds = (time.perf_counter() - started) / len(active)
            state.history.append(record)

    cache_stats = {"hits": embedder.hits - hits_before, "misses": embedder.misses - misses_before}
    total = cache_stats["hits"] + cache_stats["misses"]
    cache_stats["hit_rate"] = cache_stats["hits"] / total if total else 0.0
    results = []
    for state in states:
        top = state.top(keep)
        results.append(InversionResult(text=top[0][1], score=top[0][0], top=top, history=state.history, config=config, cache=cache_stats))
    return results


def _bootstrap(targets, bank, embedder, keep, neighbours, exclude, how, *, rescore=False) -> list[_Target]:
    """Each target's first top-K (and its neighbours) from the bank, recorded as step 0.

    rescore: rank the index's nearest texts by the embedder's scores (a custom scorer's), not the index's.
    """
    started = time.perf_counter()
    k = keep + neighbours
    if how == "index":
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
    elif how == "encode":
        # MILS scores the whole bank with the encoder for every target.
        skip = set(exclude or ())
        rows, encoded = [], 0
        for target in targets:
            texts = [text for text in bank.texts if text not in skip]
            scores = embedder.embed(texts) @ target
            encoded += len(texts)
            order = np.argsort(-scores, kind="stable")[:k]
            rows.append([(float(scores[i]), texts[i]) for i in order])
    else:
        raise ValueError(f"bootstrap must be 'index' or 'encode', not {how!r}")
    seconds = (time.perf_counter() - started) / len(targets)
    states = []
    for index, (target, row) in enumerate(zip(targets, rows)):
        if not row:
            raise BankError("the caption bank returned no text to start from. Give a bank with captions.")
        pool = {text: score for score, text in row[:keep]}
        state = _Target(index=index, vector=target, pool=pool, neighbours=[text for _, text in row])
        state.seen = {candidate_key(text) for _, text in row}
        best_score, best_text = state.top(1)[0]
        state.history.append(
            StepRecord(step=0, best_text=best_text, best_score=best_score, candidates=row[:keep],
                       scored=encoded // len(targets), seconds=seconds)
        )
        states.append(state)
    return states
