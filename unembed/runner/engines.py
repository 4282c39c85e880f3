"""Where a job's batches are inverted: in this process, or on Ray actors. Both yield (batch, rows) as
batches finish; the driver writes the shards, so resuming works the same whatever ran the batches.

Ray does the scheduling, the object transfer and the recovery: an actor whose process dies is
restarted (`max_restarts`) and the batch it held is run again (`max_task_retries`), loading its
components anew, so a killed worker costs the batch in flight and nothing else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..errors import RunnerError
from ..registry import require
from ..spaces import Space
from .job import Job
from .worker import Batch, BatchInverter

log = logging.getLogger(__name__)

RESTARTS = 4  # per actor: process deaths it recovers from (and retries of the batch it held) before the job fails


@dataclass
class EngineStats:
    """What the engine reports back: when its workers were ready (time.perf_counter), their process ids
    and peak memory (bytes), once known."""

    ready_at: float = 0.0
    pids: list[int] = field(default_factory=list)
    peak_rss: list[int] = field(default_factory=list)


def in_process(job: Job, batches: list[Batch], stats: EngineStats, *, space: Space | None = None) -> Iterator[tuple[int, list[dict]]]:
    worker = BatchInverter(job, space=space)
    stats.pids, stats.ready_at = [worker.pid()], time.perf_counter()
    for batch in batches:
        yield worker.run(batch)
    stats.peak_rss = [worker.peak_rss()]


def on_ray(
    job: Job,
    batches: list[Batch],
    stats: EngineStats,
    *,
    address: str | None,
    workers: int,
    cpus_per_worker: float = 1,
    gpus_per_worker: float = 0,
    progress: bool = False,
) -> Iterator[tuple[int, list[dict]]]:
    """`workers` actors on a local Ray started here (address None) or on the cluster at `address`."""
    ray = require("ray", extra="ray", needed_by="running a job on Ray (--ray)")
    from ray.util import ActorPool  # noqa: E402  (ray is optional: imported once `require` found it)

    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=int(np.ceil(workers * cpus_per_worker)), include_dashboard=False, log_to_driver=False)
    try:
        actor = ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=RESTARTS, max_task_retries=RESTARTS)(
            BatchInverter
        )
        threads = max(int(cpus_per_worker), 1)
        actors = [actor.remote(job, threads=threads) for _ in range(workers)]
        try:
            # Waiting for every worker to load its components first makes a bad spec fail before any batch.
            stats.pids = ray.get([each.pid.remote() for each in actors])
        except ray.exceptions.RayError as error:
            raise RunnerError(f"the Ray workers could not start: {_cause(error)}") from error
        stats.ready_at = time.perf_counter()
        if progress:
            log.info("%d Ray worker(s) ready, process ids %s", workers, ", ".join(map(str, stats.pids)))
        pool = ActorPool(actors)
        try:
            yield from pool.map_unordered(lambda each, batch: each.run.remote(batch), batches)
        except ray.exceptions.RayError as error:
            raise RunnerError(f"a Ray worker failed more than {RESTARTS} times: {_cause(error)}") from error
        stats.peak_rss = ray.get([each.peak_rss.remote() for each in actors])
    finally:
        if started_here:
            ray.shutdown()


def _cause(error: Exception) -> str:
    cause = getattr(error, "cause", None)
    return str(cause or error).strip().splitlines()[-1]
