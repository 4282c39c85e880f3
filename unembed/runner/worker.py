"""One worker of a job: loads the space, bank and generator once, then inverts batch after batch.

The same class runs in the driver's process and as a Ray actor, so both engines make the same rows. It loads
its components at `load()` or its first batch, not when it is made: a Ray actor is then alive as soon as it is
placed, so the engine can bound the wait for resources apart from the loading (which may download a model).
"""

from __future__ import annotations

import os
import resource

import numpy as np
import torch

from ..errors import RunnerError, UnembedError
from ..generators import load_generator, with_timeout
from ..index import Bank, resolve_bank
from ..inverter import InversionResult, TextEmbeddingCache, invert_many
from ..secrets import redact
from ..spaces import Space, load_space
from .job import Job

Batch = tuple[int, list[str], np.ndarray]  # batch number, ids, vectors


class ProcessFacts:
    """What an engine asks of each worker's process (a Ray actor's, or the driver's)."""

    def pid(self) -> int:
        return os.getpid()

    def peak_rss(self) -> int:
        """This process's peak resident memory so far, in bytes (Linux reports KiB)."""
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class BatchInverter(ProcessFacts):
    """`invert(ids, vectors)` -> one predictions row per target. threads: torch threads (the worker's CPU share);
    space, bank: the job's, already loaded by the caller (in process)."""

    def __init__(self, job: Job, *, space: Space | None = None, bank: Bank | None = None, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        self.job = job
        self.given = space, bank
        self.loaded = False

    def load(self) -> None:
        """Load the components, once (on Ray, the engine calls it on each worker, and on each new worker that
        replaces a lost one, before giving it a batch)."""
        if self.loaded:
            return
        job, (space, bank) = self.job, self.given
        self.space = space or load_space(job.space)
        self.bank = bank if bank is not None else resolve_bank(job.bank, self.space, job.modality)
        if job.bank_sha256 is not None and self.bank.digest() != job.bank_sha256:
            raise RunnerError(
                f"the bank {job.bank or 'of the space'} changed after the job began (rebuilt or replaced), so this worker "
                "would answer from another bank than the rows written. Put back the bank the job began with, or give a new --out."
            )
        settings = dict(job.settings)
        timeout = settings.pop("timeout", None)
        self.generator = with_timeout(load_generator(job.generator), timeout)
        self.fallback = with_timeout(load_generator(job.fallback), timeout) if job.fallback else None
        self.settings = settings
        self.loaded = True

    def run(self, batch: Batch) -> tuple[int, list[dict]]:
        number, ids, vectors = batch
        return number, self.invert(ids, vectors)

    def invert(self, ids: list[str], vectors: np.ndarray) -> list[dict]:
        self.load()
        try:
            # A fresh embedding cache per batch: a batch's texts are encoded in the same groups whatever
            # this worker inverted before, so its rows do not depend on which worker it ran on.
            results = invert_many(
                vectors,
                space=self.space,
                bank=self.bank,
                generator=self.generator,
                fallback=self.fallback,
                cache=TextEmbeddingCache(self.space),
                exclude=list(self.job.exclude),
                modality=self.job.modality,
                **self.settings,
            )
        except UnembedError as error:
            return [_failed(target, f"{type(error).__name__}: {error}") for target in ids]
        return [_row(target, result) for target, result in zip(ids, results, strict=True)]


def _row(target: str, result: InversionResult) -> dict:
    failed = result.failed_steps
    error = None
    if failed:
        assert result.config is not None  # the loop records its settings
        # As `unembed invert` exits 3: the text holds less than was asked. The next run tries it again.
        error = f"the generator {result.config.generator} failed in {len(failed)} of {len(result.history) - 1} step(s): {failed[-1].error}"
    return {
        "id": target,
        "text": result.text,
        "score": result.score,
        "bootstrap_text": result.bootstrap_text,
        "bootstrap_score": result.bootstrap_score,
        "steps": len(result.history) - 1,
        "seconds": result.seconds,
        "llm_calls": result.llm_calls,
        "error": None if error is None else redact(error),
    }


def _failed(target: str, error: str) -> dict:
    return {
        "id": target,
        "text": None,
        "score": None,
        "bootstrap_text": None,
        "bootstrap_score": None,
        "steps": 0,
        "seconds": 0.0,
        "llm_calls": 0,
        "error": redact(error),
    }
