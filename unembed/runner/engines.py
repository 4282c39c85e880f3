"""Where a job's batches are inverted: in this process, or on Ray actors. Both yield (batch, rows) as
batches finish; the driver writes the shards, so resuming works the same whatever ran the batches.

On Ray, Ray places the workers and carries the batches and rows; the driver hands out the batches, one at a time
to each live worker (`_Workers`). A worker that is lost (its process killed, or its node gone) costs the batch it
held and nothing else: the batch goes to a live worker, and a new worker is asked of Ray, which places it where
there is room, now or once a node joins. Ray's own actor restarts are not used: a restarted actor keeps its batch
while it waits for room, and after a node is lost there may be none until the job ends.

Ray waits without a word for what cannot come (an address where nothing listens, a GPU no node has, more
CPUs than the cluster holds), so each wait has a bound here: a plain connection to the address first, the
workers' request against the nodes' resources, and a deadline for placing the workers (and for placing a new
one when every worker was lost).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .. import checks
from ..errors import InputError, RunnerError
from ..index import Bank
from ..registry import require
from ..spaces import Space
from .job import Job
from .worker import Batch, BatchInverter

log = logging.getLogger(__name__)

LOSSES = 4  # the job fails at the 5th loss of one batch (it kills its worker), or after 4 lost workers per worker
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


def ray_settings(*, address: str | None, workers, cpus_per_worker, gpus_per_worker, start_timeout) -> dict:
    """The workers' settings, checked before Ray starts (Ray takes a negative or NaN amount with a traceback, and a
    fraction above 1 only for its own custom resources). A local Ray (no `address`, none joined yet) is started with
    the CPUs the workers ask for, so it is held to the cores this machine has: more would promise cores not there."""
    workers = checks.count(workers, "--workers (Ray workers)", maximum=checks.COUNT_LIMIT)
    amounts = {"--cpus-per-worker": cpus_per_worker, "--gpus-per-worker": gpus_per_worker}
    for name, amount in amounts.items():
        amount = checks.number(amount, name)
        none = amount == 0 and name == "--gpus-per-worker"
        if not (none or 1e-4 <= amount <= 1 or (1 < amount <= checks.COUNT_LIMIT and amount.is_integer())):
            raise InputError(
                f"{name} must be {'0, ' if name == '--gpus-per-worker' else ''}a fraction from 0.0001 to 1, or a whole "
                f"number up to {checks.COUNT_LIMIT:,} (Ray's rule for shared CPUs and GPUs); got {amount:g}."
            )
        amounts[name] = amount
    cpus, gpus = amounts.values()
    cores = os.cpu_count() or 1
    if not address and not _ray_running() and workers * cpus > cores:
        raise InputError(
            f"--workers {workers} x --cpus-per-worker {cpus:g} asks for {workers * cpus:g} CPUs, and the local Ray started "
            f"here has this machine's {cores}. Ask for at most {cores} in all, or give --ray ADDRESS of a cluster that has them."
        )
    start_timeout = checks.seconds(start_timeout, "--ray-start-timeout")
    return dict(workers=workers, cpus_per_worker=cpus, gpus_per_worker=gpus, start_timeout=start_timeout)


def _ray_running() -> bool:
    """Whether this process already joined a Ray (its caller's): on_ray then uses it as it is."""
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


def on_ray(
    worker_type: type,
    worker_args: tuple,
    batches: list[tuple],
    stats: EngineStats,
    *,
    address: str | None,
    workers: int,
    cpus_per_worker: float = 1,
    gpus_per_worker: float = 0,
    start_timeout: float = START_SECONDS,
    progress: bool = False,
) -> Iterator[tuple]:
    """`workers` actors of `worker_type(*worker_args, threads=...)` (BatchInverter, ChunkEncoder: `load()`, then
    `run(batch)` -> (batch number, result) per batch, whose first item is its number; `pid()`, `peak_rss()`) on a
    local Ray started here (address None) or on the cluster at `address`; the workers must be placed and started
    within `start_timeout` seconds."""
    settings = ray_settings(
        address=address,
        workers=workers,
        cpus_per_worker=cpus_per_worker,
        gpus_per_worker=gpus_per_worker,
        start_timeout=start_timeout,
    )
    workers, cpus_per_worker, gpus_per_worker, start_timeout = settings.values()
    ray = require("ray", extra="ray", needed_by="running a job on Ray (--ray)")
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            _check_listening(address)
            try:
                ray.init(address=address, log_to_driver=False)
            except ConnectionError as error:  # e.g. "auto" and no cluster running
                if _refused_token(error):
                    raise RunnerError(f"the Ray cluster at {address} asks for a token. {TOKEN_FIX}") from error
                raise RunnerError(f"cannot join the Ray cluster at {address} ({_cause(error).rstrip('.')}). {JOIN_FIX}") from error
        else:
            ray.init(num_cpus=int(np.ceil(workers * cpus_per_worker)), include_dashboard=False, log_to_driver=False)
    try:
        asked = {"CPU": cpus_per_worker, "GPU": gpus_per_worker}
        _check_resources(ray.nodes(), asked)
        # max_restarts 0: the driver replaces a lost worker itself (see the module's docstring).
        remote = ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=0, max_task_retries=0)(worker_type)
        threads = max(int(cpus_per_worker), 1)

        def new_worker():
            return remote.remote(*worker_args, threads=threads)

        actors = [new_worker() for _ in range(workers)]
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
            raise RunnerError(f"the Ray workers could not start: {_start_failure(error)}") from error
        stats.ready_at = time.perf_counter()
        if progress:
            log.info("%d Ray worker(s) ready, process ids %s", workers, ", ".join(map(str, stats.pids)))
        pool = _Workers(ray, actors, new_worker, asked=asked, start_timeout=start_timeout, progress=progress)
        yield from pool.run(batches)
        stats.pids += pool.new_pids
        stats.peak_rss = pool.peak_rss()
    finally:
        if started_here:
            ray.shutdown()


class _Workers:
    """The live Ray workers of a job and the batches they hold, one each.

    A lost worker (`_lost`: its process or its node died) gives its batch back to the queue, for the next live
    worker, and a new worker is asked of Ray; the run goes on with the workers left meanwhile. It stops when a
    worker raises (a bug, not a loss), when one batch was lost LOSSES + 1 times (it kills its worker: out of
    memory?) or workers were lost LOSSES times per worker in all, or when no worker was live, nor a new one
    placed, for `start_timeout` seconds.
    """

    def __init__(self, ray, actors: list, new_worker: Callable, *, asked: dict, start_timeout: float, progress: bool):
        self.ray, self.new_worker, self.asked, self.start_timeout, self.progress = ray, new_worker, asked, start_timeout, progress
        self.idle = deque(actors)  # first in, first out: each worker in turn, so a dead one is found at its next batch
        self.starting: dict = {}  # a new worker's load() -> (the worker, its pid(), which answers once it is placed)
        self.lost_budget = LOSSES * len(actors)
        self.new_pids: list[int] = []

    def run(self, batches: list[tuple]) -> Iterator[tuple]:
        ray = self.ray
        queue, lost = deque(batches), Counter[int]()
        running: dict = {}  # run() -> (the worker, its batch)
        alone_since = None  # when the last live worker was lost, while no new one is placed
        while queue or running:
            while queue and self.idle:
                worker, batch = self.idle.popleft(), queue.popleft()
                running[worker.run.remote(batch)] = worker, batch
            alone_since = self._check_alone(alone_since, bool(running))
            ready, _ = ray.wait([*running, *self.starting], num_returns=1, timeout=1.0)
            for ref in ready:
                if ref in self.starting:
                    self._started(ref)
                    continue
                worker, batch = running.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as error:
                    if not _lost(ray, error):
                        raise RunnerError(f"a Ray worker failed: {_cause(error)}") from error
                    lost[batch[0]] += 1
                    if lost[batch[0]] > LOSSES:
                        raise RunnerError(
                            f"batch {batch[0]} was lost with its Ray worker {lost[batch[0]]} times: it kills the worker that "
                            f"runs it (out of memory?). Last: {_cause(error)}"
                        ) from error
                    queue.appendleft(batch)
                    self._replace(worker, error, f"its batch {batch[0]} goes to another worker")
                    continue
                self.idle.append(worker)
                yield result

    def _check_alone(self, since: float | None, running: bool) -> float | None:
        """Bound the wait when every worker is lost: only new ones, not yet placed, could go on."""
        if running or self.idle or not self.starting:
            return None
        placed = [pid for _, pid in self.starting.values()]
        if self.ray.wait(placed, num_returns=1, timeout=0)[0]:
            return None  # one is placed and loading: loading has no bound, as at the start
        since = since or time.monotonic()
        if time.monotonic() - since > self.start_timeout:
            ray = self.ray
            raise RunnerError(
                f"every Ray worker was lost and no new one was placed within {self.start_timeout:g} s: each asks for "
                f"{_named(self.asked)}, and the cluster has {_named(ray.available_resources())} free of "
                f"{_named(ray.cluster_resources())}. The batches done are written: run the same command again when the "
                "cluster has room to go on from there, or allow longer with --ray-start-timeout."
            )
        return since

    def _replace(self, worker, error: Exception, what: str) -> None:
        self.lost_budget -= 1
        if self.lost_budget < 0:
            raise RunnerError(f"Ray workers were lost {LOSSES} times per worker; the last: {_cause(error)}") from error
        log.warning("a Ray worker was lost (%s); %s, and a new worker is asked of Ray", _cause(error), what)
        self.ray.kill(worker, no_restart=True)  # a worker only unreachable for now must not go on with the batch
        worker = self.new_worker()
        self.starting[worker.load.remote()] = worker, worker.pid.remote()

    def _started(self, ref) -> None:
        worker, pid = self.starting.pop(ref)
        try:
            self.ray.get(ref)
        except self.ray.exceptions.RayError as error:
            if not _lost(self.ray, error):
                raise RunnerError(f"a new Ray worker could not start: {_start_failure(error)}") from error
            self._replace(worker, error, "it was a new one")
            return
        self.idle.append(worker)
        self.new_pids.append(self.ray.get(pid))
        if self.progress:
            log.info("a new Ray worker is ready, process id %d", self.new_pids[-1])

    def peak_rss(self) -> list[int]:
        rss = []
        for ref in [worker.peak_rss.remote() for worker in self.idle]:
            try:
                rss.append(self.ray.get(ref))
            except self.ray.exceptions.RayActorError:
                pass  # lost at the very end: its memory is not known
        return rss


# Ray's errors that say a worker is gone: its process or node died (ActorUnavailableError, a RayActorError, says it
# cannot be reached; it is killed before its batch goes elsewhere), or the rows it returned were on a lost node.
GONE = ("RayActorError", "NodeDiedError", "WorkerCrashedError", "OutOfMemoryError", "ObjectLostError")


def _lost(ray, error: Exception) -> bool:
    """Whether `error` says the worker or its node is gone (its batch can run elsewhere), not that the code failed.
    An actor that failed in its creation (unembed not importable on its node) is a failure: it would fail again."""
    gone = tuple(getattr(ray.exceptions, name) for name in GONE)
    return isinstance(error, gone) and not getattr(error, "actor_init_failed", False)


def _start_failure(error: Exception) -> str:
    cause = _cause(error)
    if "No module named 'unembed" in str(error):
        from .. import __version__

        cause += (
            f". A Ray node cannot import unembed: install unembed {__version__} with the same extras, in the same "
            "Python as the driver's, on every node (or in the cluster's image)"
        )
    return cause


JOIN_FIX = "Start the cluster there (`ray start --head`), correct --ray ADDRESS, or give --ray alone to start Ray on this machine."


# Ray turns token authentication on for a `ray start --head` that finds ~/.ray/auth_token (a local ray.init makes one),
# but a driver given an explicit address sends the token only when told to.
TOKEN_FIX = (
    "Give this process the cluster's token: RAY_AUTH_MODE=token, and the token (`ray get-auth-token` on the head prints "
    "it) in RAY_AUTH_TOKEN or ~/.ray/auth_token."
)


def _refused_token(error: BaseException | None) -> bool:
    while error is not None:
        if "InvalidAuthToken" in str(error) or type(error).__name__ == "AuthenticationError":
            return True
        error = error.__cause__ or error.__context__
    return False


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
    return str(cause or error).strip().splitlines()[-1].strip()
