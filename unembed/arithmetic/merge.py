"""Text mode's merge: the texts of the terms become one scene description, checked by the embedding.

MILS merges an image caption and an audio caption with an LLM. A merge is a guess, so it is not
trusted: the LLM writes several, rule-based joins are added ("A and B"; for an analogy A - "red" +
"blue", A with "red" replaced by "blue"), and every candidate is scored against the combined
embedding of the terms. The best-scoring one wins, and `source` says who wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files

import numpy as np

from ..generators import Generator, ProposalRequest, candidate_key, load_generator, with_timeout
from ..spaces import Space

MAX_WORDS = 20


@dataclass
class MergeResult:
    text: str
    score: float  # cosine of the text's embedding with the combined target
    source: str  # "llm" (the generator), "join" or "swap" (rules)
    candidates: list[tuple[float, str, str]] = field(default_factory=list)  # (score, text, source), best first
    error: str | None = None  # the generator's error, when it gave nothing usable

    @property
    def llm_won(self) -> bool:
        return self.source == "llm"


def merge_prompt(parts: Sequence[tuple[float, str]]) -> str:
    """The merge prompt (package data arithmetic/prompts/merge.txt) for (weight, text) parts; {requested} open."""
    template = files("unembed.arithmetic").joinpath("prompts", "merge.txt").read_text(encoding="utf-8")
    lines = "\n".join(f"{'Add' if weight > 0 else 'Remove'}: {text}" for weight, text in parts)
    return template.replace("{terms}", lines).replace("{max_words}", str(MAX_WORDS))


def rule_merges(parts: Sequence[tuple[float, str]]) -> list[tuple[str, str]]:
    """(text, source) joins that need no model.

    swap: when removed and added texts pair up (A - "red" + "blue"), each removed phrase in the
    other texts is replaced by its added partner, in order. join: the added texts, with the removed
    phrases cut out of them, joined by "and" / "with".
    """
    added = [text for weight, text in parts if weight > 0]
    removed = [text for weight, text in parts if weight < 0]
    merges = []
    short_added = [text for text in added if len(text.split()) <= 3]
    if removed and len(removed) == len(short_added):
        long_added = [text for text in added if text not in short_added]
        swapped = []
        for text in long_added:
            for old, new in zip(removed, short_added, strict=True):
                text = _replace_phrase(text, old, new)
            swapped.append(text)
        if swapped and swapped != long_added:
            merges.append((" and ".join(swapped), "swap"))
    kept = [text for text in (_remove_phrases(text, removed) for text in added) if text]
    if kept:
        merges.append((" and ".join(kept), "join"))
        if len(kept) > 1:
            merges.append((f"{kept[0]} with {' and '.join(kept[1:])}", "join"))
    return merges


def _replace_phrase(text: str, old: str, new: str) -> str:
    return re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", new, text, flags=re.I)


def _remove_phrases(text: str, phrases: Sequence[str]) -> str:
    for phrase in phrases:
        text = _replace_phrase(text, phrase, "")
    return " ".join(text.split())


def merge_many(
    parts: Sequence[Sequence[tuple[float, str]]],
    targets: np.ndarray,
    *,
    space: Space,
    generator: str | Generator = "llama.cpp",
    requested: int = 5,
    seed: int = 0,
    timeout: float | None = None,
) -> list[MergeResult]:
    """One merge per row: parts[i] are (weight, text) of combination i, targets[i] its combined embedding.

    The generator answers all combinations in one batch (`requested` merges each); every candidate
    is embedded once and scored against its own target. `timeout`: see `invert_many`.
    """
    generator = with_timeout(load_generator(generator), timeout)
    requests = [
        ProposalRequest(
            template=merge_prompt(row),
            candidates=[(weight, text) for weight, text in row if weight > 0],
            neighbours=[],
            requested=requested,
            max_words=MAX_WORDS,
            seed=seed * 1_000_003 + index,
        )
        for index, row in enumerate(parts)
    ]
    proposals = generator.propose(requests)
    pools: list[list[tuple[str, str]]] = []
    for row, proposal in zip(parts, proposals, strict=True):
        unique: dict[str, tuple[str, str]] = {}
        for text, source in rule_merges(row) + [(text, "llm") for text in proposal.texts]:
            unique.setdefault(candidate_key(text), (text, source))
        pools.append(list(unique.values()))
    vectors = space.embed_text([text for pool in pools for text, _ in pool])
    results, offset = [], 0
    for pool, target, proposal in zip(pools, targets, proposals, strict=True):
        scores = vectors[offset : offset + len(pool)] @ target
        offset += len(pool)
        ranked = sorted(((float(score), text, source) for score, (text, source) in zip(scores, pool, strict=True)), key=lambda c: -c[0])
        best = ranked[0]
        results.append(MergeResult(text=best[1], score=best[0], source=best[2], candidates=ranked, error=proposal.error))
    return results
