"""`A+B`: several generators answer every request; their texts are pooled (e.g. `llama.cpp+mutate`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .base import Generator, Proposal, ProposalRequest


class CombinedGenerator(Generator):
    def __init__(self, generators: Sequence[Generator]):
        self.generators = list(generators)
        self.spec = "+".join(generator.spec for generator in self.generators)
        # The prompt shows what the LLM among them prefers to see; one member's broken texts need the gate.
        self.shown = next((g.shown for g in self.generators if g.shown is not None), None)
        self.needs_fluency_gate = any(g.needs_fluency_gate for g in self.generators)

    def set_timeout(self, seconds: float) -> None:
        for generator in self.generators:
            generator.set_timeout(seconds)

    def attach(self, space) -> None:
        for generator in self.generators:
            generator.attach(space)

    def propose(self, requests: Sequence[ProposalRequest]) -> list[Proposal]:
        answers = [generator.propose(requests) for generator in self.generators]
        merged = []
        for proposals in zip(*answers, strict=True):
            texts = list(dict.fromkeys(text for proposal in proposals for text in proposal.texts))
            errors = [
                f"{generator.spec}: {proposal.error}"
                for generator, proposal in zip(self.generators, proposals, strict=True)
                if proposal.error
            ]
            merged.append(
                Proposal(
                    texts=texts,
                    calls=sum(p.calls for p in proposals),
                    prompt_tokens=sum(p.prompt_tokens for p in proposals),
                    completion_tokens=sum(p.completion_tokens for p in proposals),
                    seconds=sum(p.seconds for p in proposals),
                    # A member that failed is reported even when another one's texts carry the step:
                    # the step did not fail (it has texts), but it ran without that member.
                    error="; ".join(errors) or None,
                    raw=[raw for p in proposals for raw in p.raw],
                    refusals=dict(sum((Counter(p.refusals) for p in proposals), Counter())),
                )
            )
        return merged
