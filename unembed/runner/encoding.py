"""`unembed bank build --ray`: a bank's captions encoded chunk by chunk on Ray workers, each loading the space once.

`ray_encoder(...)` is a `ChunkEncoder` for `build_bank(encoder=...)`: the build hands it the chunks it has not
checkpointed yet and writes each chunk as it comes back, so an interrupted build resumes as it does in process,
and a worker lost with its node costs only the chunk it held (the engine gives it to another worker).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from .. import checks
from ..index.bank import ChunkEncoder, encode_captions
from ..spaces import Space, load_space
from .engines import START_SECONDS, EngineStats, on_ray, ray_settings
from .worker import ProcessFacts


class ChunkWorker(ProcessFacts):
    """Encodes chunks (number, texts) with the space `space`, loaded once; threads: torch threads (its CPU share)."""

    def __init__(self, space: str, batch_size: int, *, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        self.spec, self.batch_size = space, batch_size
        self.space: Space | None = None

    def load(self) -> Space:
        if self.space is None:
            self.space = load_space(self.spec)
        return self.space

    def run(self, chunk: tuple[int, list[str]]) -> tuple[int, np.ndarray]:
        number, texts = chunk
        return number, encode_captions(texts, self.load(), self.batch_size)


def ray_encoder(
    space: str,
    *,
    batch_size: int = 256,
    address: str | None = None,
    workers: int = 1,
    cpus_per_worker: float = 1,
    gpus_per_worker: float = 0,
    start_timeout: float = START_SECONDS,
) -> ChunkEncoder:
    """Chunks encoded by `workers` Ray actors with the space spec `space`: on a local Ray started here (address
    None) or on the cluster at `address` (every node needs unembed and the space's extra installed)."""
    batch_size = checks.count(batch_size, "batch_size")
    ray_settings(
        address=address, workers=workers, cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker, start_timeout=start_timeout
    )  # before the captions are read: on_ray checks them again as Ray starts

    def encode(chunks: list[tuple[int, list[str]]]) -> Iterator[tuple[int, np.ndarray]]:
        if not chunks:
            return
        yield from on_ray(
            ChunkWorker,
            (space, batch_size),
            chunks,
            EngineStats(),
            address=address,
            workers=workers,
            cpus_per_worker=cpus_per_worker,
            gpus_per_worker=gpus_per_worker,
            start_timeout=start_timeout,
        )

    return encode
