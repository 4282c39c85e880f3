"""The generator protocol: given what the loop knows about a target, propose new candidate texts.

An LLM generator reads the filled prompt; a model-free proposer (`mutate`) reads the scored
candidates and the bank neighbours directly. Both answer a batch of requests (one per target)
at once, so a backend can batch or run them concurrently.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import checks
from ..secrets import redact
from .parsing import parse_numbered_lines


@dataclass
class ProposalRequest:
    """One target's turn: the prompt (for LLMs) and the material it was made from (for `mutate`)."""

    template: str  # the prompt with the candidates filled in and `{requested}` left open
    candidates: list[tuple[float, str]]  # the shown candidates, best first
    neighbours: list[str]  # bank texts nearest the target, beyond the shown ones
    requested: int  # how many new texts to ask for
    max_words: int  # the prompt's length cap; longer answers are dropped by the parser
    seed: int
    # For proposers that search with the scorer while they write: texts -> their scores by this
    # target's objective (unembed.objectives; through the loop's encoder and cache); texts -> which of them the loop would keep (its fluency
    # gate; None when it keeps any); the bank's texts, to draw words and word order from.
    score: Callable[[list[str]], np.ndarray] | None = None
    accept: Callable[[list[str]], np.ndarray] | None = None
    corpus: Sequence[str] | None = None
    # For proposers that read the embedding itself (`decoder`): the vector the objective aims at (the target,
    # for the cosine objective), and texts -> their embeddings (the loop's encoder and cache).
    target: np.ndarray | None = None
    embed: Callable[[list[str]], np.ndarray] | None = None
    # Count, per rule, the candidate edits a rule-keeping proposer (`edit`) refused, on `Proposal.refusals`;
    # off, it counts nothing (InversionConfig.record_refusals). Other generators ignore it.
    record_refusals: bool = False

    def prompt(self, lines: int | None = None) -> str:
        """The prompt asking for `lines` texts (all `requested` by default)."""
        return self.template.replace("{requested}", str(self.requested if lines is None else lines))


@dataclass
class Proposal:
    """What a generator returned for one request, with its cost."""

    texts: list[str]
    calls: int = 0  # LLM calls made, retries included
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None  # why (part of) the generator failed; when `texts` is empty, every try failed
    raw: list[str] = field(default_factory=list)  # the raw answers, for debugging prompts
    refusals: dict[str, int] = field(default_factory=dict)  # rule name -> candidates it refused (when the request asks)


class Generator(ABC):
    """Proposes new candidate texts for a batch of targets, one ProposalRequest each.

    `spec` is the registry string that rebuilds it. Two capabilities the loop reads:
    `shown`: how many of the kept candidates the prompt should list (None: all of them);
    `needs_fluency_gate`: its texts can buy cosine with broken language, so the loop keeps only
    new texts at least as fluent as the bank's best (see unembed.generators.fluency).
    """

    spec: str
    shown: int | None = None
    needs_fluency_gate: bool = False

    @abstractmethod
    def propose(self, requests: Sequence[ProposalRequest]) -> list[Proposal]:
        """One Proposal per request, in order."""

    def set_timeout(self, seconds: float) -> None:
        """Bound how long one `propose` may wait on a backend, all tries included. A model-free generator waits on nothing."""
        checks.seconds(seconds)

    def attach(self, space) -> None:
        """Prepare for targets of `space` (the loop calls it before the first step): a generator that reads the
        embeddings (`decoder`) loads the model for the space here and refuses one of another space."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(spec={self.spec!r})"


@dataclass
class Call:
    """One LLM call: a prompt asking for `lines` texts of at most `max_words` words."""

    prompt: str
    seed: int
    lines: int
    max_words: int


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatGenerator(Generator):
    """Shared by the LLM backends: split a request into calls, parse, retry, account.

    Small models list few lines well and many lines badly (they loop, echo the prompt or lose
    the counter), so a request for N texts becomes ceil(N / lines_per_call) calls that differ
    only by seed. A call whose answer is an error, empty or unparsable is retried up to
    `retries` times with exponential backoff; after that the request reports `error`. `timeout`
    bounds one `propose`, retries included: no try starts after it, and a backend that can (HTTP)
    gives each call only the time left (`remaining()`), so a hung server costs `timeout` per step.
    An answer is cut to the lines asked for: a model that rambles on is not scored for it.
    """

    lines_per_call: int = 50
    retries: int = 2
    backoff: float = 0.5
    temperature: float = 0.7
    top_p: float = 0.9
    presence_penalty: float = 0.6
    timeout: float | None = None  # seconds for one propose, all tries together; None: unbounded
    _deadline: float | None = None

    def set_timeout(self, seconds: float) -> None:
        self.timeout = checks.seconds(seconds)

    def remaining(self) -> float | None:
        """Seconds left of the current propose's time budget (None: unbounded)."""
        return None if self._deadline is None else self._deadline - time.monotonic()

    @abstractmethod
    def _complete(self, calls: list[Call]) -> list[Completion | Exception]:
        """One answer (or the exception it raised) per call; backends batch or parallelise."""

    def _max_tokens(self, lines: int, max_words: int) -> int:
        # ~1.6 tokens per English word, plus the counter and newline, with slack.
        return int(lines * (max_words * 1.6 + 6)) + 16

    def _chat_arguments(self, call: Call) -> dict:
        """The chat-completion arguments of `call`, for backends with the OpenAI chat API (llama.cpp, openai)."""
        return dict(
            messages=[{"role": "user", "content": call.prompt}],
            temperature=self.temperature,
            top_p=self.top_p,
            presence_penalty=self.presence_penalty,
            max_tokens=self._max_tokens(call.lines, call.max_words),
            stop=[f"\n{call.lines + 1}."],  # past the last asked line a model only repeats itself
            seed=call.seed,
        )

    def propose(self, requests: Sequence[ProposalRequest]) -> list[Proposal]:
        started = time.perf_counter()
        proposals = [Proposal(texts=[]) for _ in requests]
        # (request index, call index) -> prompt, lines asked in it
        jobs = []
        for index, request in enumerate(requests):
            per_request = max(1, -(-request.requested // self.lines_per_call))
            for call in range(per_request):
                lines = min(self.lines_per_call, request.requested - call * self.lines_per_call)
                jobs.append((index, request.seed * 1009 + call, max(lines, 1)))
        pending = jobs
        errors: dict[int, str] = {}
        succeeded: set[int] = set()
        self._deadline = None if self.timeout is None else time.monotonic() + self.timeout
        for attempt in range(self.retries + 1):
            if not pending:
                break
            if attempt:
                pause = self.backoff * 2 ** (attempt - 1)
                if self._deadline is not None and time.monotonic() + pause >= self._deadline:
                    break  # the step's time budget is spent: no try that could not finish in it
                time.sleep(pause)
            # A retry gets a new seed: the same seed would give the same bad answer.
            calls = [
                Call(requests[index].prompt(lines), seed + 7919 * attempt, lines, requests[index].max_words)
                for index, seed, lines in pending
            ]
            answers = self._complete(calls)
            retry = []
            for job, answer in zip(pending, answers, strict=True):
                index = job[0]
                proposal, request = proposals[index], requests[index]
                proposal.calls += 1
                if isinstance(answer, Exception):
                    errors[index] = redact(f"{type(answer).__name__}: {answer}")
                    retry.append(job)
                    continue
                proposal.prompt_tokens += answer.prompt_tokens
                proposal.completion_tokens += answer.completion_tokens
                proposal.raw.append(answer.text)
                texts = parse_numbered_lines(answer.text, max_words=request.max_words, limit=lines)
                if not texts:
                    errors[index] = redact(f"no usable numbered line in the answer {answer.text[:80]!r}")
                    retry.append(job)
                    continue
                succeeded.add(index)
                proposal.texts.extend(text for text in texts if text not in proposal.texts)
            pending = retry
        self._deadline = None
        elapsed = time.perf_counter() - started
        for index, proposal in enumerate(proposals):
            proposal.seconds = elapsed / max(len(requests), 1)
            if index not in succeeded:
                proposal.error = errors.get(index, "no answer")
        return proposals
