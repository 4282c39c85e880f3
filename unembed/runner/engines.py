"""Where a job's batches are inverted: in this process, or on Ray actors. Both yield (batch, rows) as
batches finish; the driver writes the shards, so resuming works the same whatever ran the batches.

Ray does the scheduling, the object transfer and the recovery: an actor whose process dies is
restarted (`max_restarts`) and the batch it held is run again (`max_task_retries`), loading its
components anew, so a killed worker costs the batch in flight and nothing else.

Ray waits without a word for what cannot come (an address where nothing listens, a GPU no node has, more
CPUs than the cluster holds), so each wait has a bound here: a plain connection to the address first, the
workers' request against the nodes' resources, and a deadline for placing the workers.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..errors import RunnerError
from ..index import Bank
from ..registry import require
from ..spaces import Space
from .job import Job
from .worker import Batch, BatchInverter

log = logging.getLogger(__name__)

RESTARTS = 4  # per actor: process deaths it recovers from (and retries of the batch it held) before the job fails
CONNECT_SECONDS = 5  # a Ray head that is up takes a TCP connection at once
START_SECONDS = 120.0  # default bound on placing and starting every worker (not on loading its components)


@dataclass
class EngineStats:
    """What the engine reports back: when its workers were ready (time.perf_counter), their process ids
    and peak memory (bytes), once known."""

    ready_at: float = 0.0
    pids: list[int] = field(default_factory=list)
    peak_rss: list[int] = field(default_factory=list)


def in_process(
    job: Job, batches: list[Batch], stats: EngineStats, *, space: Space | None = None, bank: Bank | None = None
) -> Iterator[tuple[int, list[dict]]]:
    worker = BatchInverter(job, space=space, bank=bank)
    worker.load()
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
    start_timeout: float = START_SECONDS,
    progress: bool = False,
) -> Iterator[tuple[int, list[dict]]]:
    """`workers` actors on a local Ray started here (address None) or on the cluster at `address`; the workers
    must be placed and started within `start_timeout` seconds."""
    ray = require("ray", extra="ray", needed_by="running a job on Ray (--ray)")
    from ray.util import ActorPool  # noqa: E402  (ray is optional: imported once `require` found it)

    started_here = not ray.is_initialized()
    if started_here:
        if address:
            _check_listening(address)
            try:
                ray.init(address=address, log_to_driver=False)
            except ConnectionError as error:  # e.g. "auto" and no cluster running
                raise RunnerError(f"cannot join the Ray cluster at {address} ({_cause(error).rstrip('.')}). {JOIN_FIX}") from error
        else:
            ray.init(num_cpus=int(np.ceil(workers * cpus_per_worker)), include_dashboard=False, log_to_driver=False)
    try:
        asked = {"CPU": cpus_per_worker, "GPU": gpus_per_worker}
        _check_resources(ray.nodes(), asked)
        actor = ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=RESTARTS, max_task_retries=RESTARTS)(
            BatchInverter
        )
        threads = max(int(cpus_per_worker), 1)
        actors = [actor.remote(job, threads=threads) for _ in range(workers)]
        placed = [each.pid.remote() for each in actors]  # answers once the actor is placed: it loads nothing yet
        _, waiting = ray.wait(placed, num_returns=len(placed), timeout=start_timeout)
        if waiting:
            raise RunnerError(
                f"{len(waiting)} of {workers} Ray worker(s) were not started within {start_timeout:g} s: each asks for "
                f"{_named(asked)}, and the cluster has {_named(ray.available_resources())} free of "
                f"{_named(ray.cluster_resources())}. Ask for less (--workers, --cpus-per-worker, --gpus-per-worker), "
                "free the cluster, or allow longer with --ray-start-timeout."
            )
        try:
            stats.pids = ray.get(placed)
            # Every worker loads its components before the first batch, so a bad spec fails before any batch.
            ray.get([each.load.remote() for each in actors])
        except ray.exceptions.RayError as error:
            raise RunnerError(f"the Ray workers could not start: {_cause(error)}") from error
        stats.ready_at = time.perf_counter()
        if progress:
            log.info("%d Ray worker(s) ready, process ids %s", workers, ", ".join(map(str, stats.pids)))
        pool = ActorPool(actors)
        try:
            yield from pool.map_unordered(lambda each, batch: each.run.remote(batch), batches)
        except ray.exceptions.RayError as error:
            raise RunnerError(f"a Ray worker failed (a process may die {RESTARTS} times, its batch run again): {_cause(error)}") from error
        stats.peak_rss = ray.get([each.peak_rss.remote() for each in actors])
    finally:
        if started_here:
            ray.shutdown()


JOIN_FIX = "Start the cluster there (`ray start --head`), correct --ray ADDRESS, or give --ray alone to start Ray on this machine."


def _check_listening(address: str) -> None:
    """ray.init retries an address where nothing listens for minutes, silently: try a plain connection first."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", or a form Ray reads itself (and names what is wrong with it)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as error:
        raise RunnerError(f"nothing answers at the Ray address {address} ({error.strerror or error}). {JOIN_FIX}") from error


def _check_resources(nodes: list[dict], asked: dict[str, float]) -> None:
    """Refuse a worker that no live node can hold: Ray would keep it pending for ever."""
    asked = {name: amount for name, amount in asked.items() if amount > 0}
    offered = [node["Resources"] for node in nodes if node.get("Alive")]
    if any(all(node.get(name, 0) >= amount for name, amount in asked.items()) for node in offered):
        return
    short = [name for name, amount in asked.items() if all(node.get(name, 0) < amount for node in offered)] or ["a node with both"]
    raise RunnerError(
        f"each Ray worker asks for {_named(asked)}, but no Ray node has that (nodes: "
        f"{'; '.join(_named(node) for node in offered) or 'none alive'}), so it would wait for ever: "
        f"{' and '.join(short)} missing. Ask for what a node has (--gpus-per-worker 0 runs on CPUs; --cpus-per-worker), "
        "or give --ray ADDRESS of a cluster with such a node."
    )


def _named(resources: dict) -> str:
    return ", ".join(f"{resources.get(name, 0):g} {name}" for name in ("CPU", "GPU"))


def _cause(error: Exception) -> str:
    cause = getattr(error, "cause", None)
    return str(cause or error).strip().splitlines()[-1]
