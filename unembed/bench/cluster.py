"""`LocalCluster`: a real multi-node Ray cluster on this machine, for the slow tests and `unembed bench scale --cluster`.

Each node is its own `ray start` (its own raylet, object store, agents and worker processes), as on separate
machines. The head runs no work (0 CPUs), so the job's workers land on the worker nodes, which have a resource
each that names them (`node_1`, `node_2`, ...). Every `ray start` runs in a new process group, which the node's
processes keep but for its Ray workers, which Ray puts in groups of their own as the raylet's children: `kill_node`
kills the group and its descendants, with SIGKILL, to lose one node whole as a machine is lost, and leaving the
context does so for every node. `ray stop` is never used: it stops every Ray on the machine, other users' included.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import RunnerError
from ..registry import require

START_SECONDS = 120  # bound on one `ray start`, which returns once the GCS lists its node (a few seconds)
# The GCS declares a node dead after this many missed health checks of this period. Ray's defaults (a check every 3 s,
# 5 missed) would make each lost node cost the run 15 s or more; this cluster's processes alone get these.
HEALTH_CHECKS = {"RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "500", "RAY_health_check_failure_threshold": "3"}
PORTS = ("node-manager", "object-manager", "dashboard-agent-listen", "dashboard-agent-grpc", "metrics-export", "runtime-env-agent")


@dataclass
class Node:
    """One `ray start`: its name (`head`, `node_1`, ...), its process group, the log of the command."""

    name: str
    group: int
    log: Path


class LocalCluster:
    """`with LocalCluster(workers=2) as cluster:` a head (0 CPUs) and `workers` nodes of `cpus` CPUs each. Drivers
    join at `cluster.address` with `cluster.env` as their environment (it holds the cluster's token: the cluster
    uses Ray's token authentication, with a token of its own, as a shared cluster should).

    python: the interpreter of the worker nodes, so of their Ray workers (the head runs this one);
    env: added to the nodes' environment, which their workers inherit (UNEMBED_* settings, PYTHONPATH)."""

    def __init__(self, workers: int = 2, *, cpus: int = 1, python: str | None = None, env: dict[str, str] | None = None):
        self.workers, self.cpus, self.python = workers, cpus, python or sys.executable
        auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.env = {**os.environ, **(env or {}), **HEALTH_CHECKS, **auth}
        self.nodes: list[Node] = []
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.folder = Path()

    def __enter__(self) -> LocalCluster:
        require("ray", extra="ray", needed_by="a local Ray cluster")
        # A short temp dir of its own: Ray's socket paths under it must stay short.
        self.folder = Path(tempfile.mkdtemp(prefix="ucl-", dir="/tmp"))
        try:
            self._start("head", ["--head", f"--port={self.port}", "--num-cpus=0", f"--dashboard-port={_free_port()}"])
            # One at a time: the nodes of one machine share the session folder, where Ray numbers each raylet's
            # sockets and logs by the files there, so two nodes starting at once can take the same socket.
            for number in range(1, self.workers + 1):
                resources = json.dumps({f"node_{number}": 1})
                self._start(f"node_{number}", [f"--address={self.address}", f"--num-cpus={self.cpus}", f"--resources={resources}"])
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self, name: str, arguments: list[str]) -> None:
        python = sys.executable if name == "head" else self.python
        command = [python, "-m", "ray.scripts.scripts", "start", *arguments, "--node-ip-address=127.0.0.1", f"--temp-dir={self.folder}"]
        # Ports of their own (Ray's defaults are fixed numbers, taken by the first node or another user's Ray);
        # workers bind any free port (0); no log monitor (nothing reads the logs); a small object store.
        command += [f"--{port}-port={_free_port()}" for port in PORTS]
        command += ["--min-worker-port=0", "--max-worker-port=0", "--include-log-monitor=false"]
        command += ["--object-store-memory=100000000", "--disable-usage-stats"]
        log = self.folder / f"{name}.log"
        with open(log, "w") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        self.nodes.append(Node(name, process.pid, log))  # the new session's group: every process of the node
        try:
            process.wait(timeout=START_SECONDS)
        except subprocess.TimeoutExpired:
            raise RunnerError(f"`ray start` of {name} did not return within {START_SECONDS} s: {log.read_text()[-2000:]}") from None
        if process.returncode:
            raise RunnerError(f"`ray start` of {name} failed ({process.returncode}): {log.read_text()[-2000:]}")

    def kill_node(self, name: str) -> set[int]:
        """SIGKILL every process of the node `name` (raylet, agents, its Ray workers) at once; returns their ids once
        they are gone."""
        return _kill_node(next(node.group for node in self.nodes if node.name == name))

    def stop(self) -> None:
        for node in reversed(self.nodes):
            self.kill_node(node.name)
        if self.folder != Path():
            shutil.rmtree(self.folder, ignore_errors=True)


def _kill_node(group: int, wait: float = 10) -> set[int]:
    """Kill the processes of the process group `group` and their descendants: Ray puts each worker in a group of its
    own, as a child of the raylet. The group is stopped first, so the raylet starts no worker that the kill misses."""
    try:
        os.killpg(group, signal.SIGSTOP)
    except ProcessLookupError:
        return set()
    table = _processes()
    pids = {pid for pid, (_, pgid) in table.items() if pgid == group}
    while more := {pid for pid, (ppid, _) in table.items() if ppid in pids} - pids:
        pids |= more
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and pids & _processes().keys():
        time.sleep(0.05)
    return pids


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, process group) of every live process; zombies (dead, not yet reaped) left out. From /proc
    where there is one (slim Linux images have no `ps`), else from `ps`."""
    if not Path("/proc/self/stat").exists():
        listed = subprocess.run(["ps", "-A", "-o", "pid=,ppid=,pgid=,stat="], capture_output=True, text=True, check=True).stdout
        rows = (line.split() for line in listed.splitlines())
        return {int(pid): (int(ppid), int(pgid)) for pid, ppid, pgid, state, *_ in rows if not state.startswith("Z")}
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (command) state ppid pgrp ...": the command may hold spaces and parentheses, so split after the last ")".
            state, ppid, pgrp = stat.read_text().rpartition(")")[2].split()[:3]
        except OSError:
            continue  # ended meanwhile
        if state != "Z":
            found[int(stat.parent.name)] = (int(ppid), int(pgrp))
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
