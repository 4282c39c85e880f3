"""`unembed bench scale` (`run_scale`): the same `unembed run` job in process, on 1 Ray worker and on 2; targets per
minute, the ratios between them, peak memory per worker, and whether the three runs agree on every text.

`unembed bench scale --cluster` (`run_scale_cluster`): the same job in process and on a Ray cluster of real nodes on
this machine (`LocalCluster`), one of whose nodes is killed mid-run: every target once, and the same texts?

Targets are held-out captions (removed from the bank's bootstrap with the job's exclude list),
embedded with the space; the generator is `mutate` without the fluency gate by default, so the
figure is the loop's own cost (encoder and bank), not an LLM's.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .. import checks
from ..errors import RunnerError
from ..evaluation import held_out_targets
from ..runner import read_run, run_job
from ..spaces import load_space
from .cluster import LocalCluster

log = logging.getLogger(__name__)

BENCH_STEPS = 4
BENCH_REQUESTED = 20
BENCH_KEEP = 20


def run_scale(*, n=200, space="minilm", bank="mils-image", targets=None, batch_size=8, seed=0, progress=True, **options) -> dict:
    """The report. targets: a caption file or named source of held-out targets (default: the bank's own
    source); `options` go to `run_job` (generator mutate without the fluency gate, steps, requested,
    keep and patience default to the bench's)."""
    options, space, held_out, report = _prepare(n, space, bank, targets, batch_size, seed, options)
    with tempfile.TemporaryDirectory(prefix="unembed-bench-scale-") as temporary:
        folder = Path(temporary)
        job = _job(folder, space, held_out, bank=bank, batch_size=batch_size, seed=seed, progress=progress, **options)
        vectors = job.pop("targets")
        texts = {}
        engines: tuple[tuple[str, dict[str, Any]], ...] = (
            ("in_process", {}),
            ("ray_1_worker", {"ray": True, "workers": 1}),
            ("ray_2_workers", {"ray": True, "workers": 2}),
        )
        for name, engine in engines:
            out = folder / name
            result = run_job(vectors, out, **job, **engine)
            texts[name] = {row["id"]: row["text"] for row in read_run(out).to_pylist()}
            report["runs"][name] = {
                "seconds": result.seconds,
                "startup_seconds": result.startup_seconds,
                "targets_per_minute": 60 * result.inverted / result.seconds,
                "failed_rows": result.failed,
                "peak_rss_mb_per_worker": [rss / 2**20 for rss in result.peak_rss],
            }
    runs = report["runs"]
    report["ray_2_vs_1_worker"] = runs["ray_2_workers"]["targets_per_minute"] / runs["ray_1_worker"]["targets_per_minute"]
    report["ray_1_worker_vs_in_process"] = runs["ray_1_worker"]["targets_per_minute"] / runs["in_process"]["targets_per_minute"]
    report["ray_2_workers_vs_in_process"] = runs["ray_2_workers"]["targets_per_minute"] / runs["in_process"]["targets_per_minute"]
    report["same_texts_as_in_process"] = {
        name: sum(texts[name][key] == text for key, text in texts["in_process"].items()) / len(held_out)
        for name in ("ray_1_worker", "ray_2_workers")
    }
    return report


def run_scale_cluster(
    *, n=200, space="minilm", bank="mils-image", targets=None, batch_size=8, seed=0, workers=2, progress=True, **options
) -> dict:
    """The report: the job of `run_scale` run in process, then on a `LocalCluster` of a head and `workers` nodes of
    1 CPU (one Ray worker each), with node_1 killed (SIGKILL of all its processes) once the first shard is written.
    Each run is a driver process of its own (a fresh Python, as `unembed run`), paused while the node is killed, so
    the node dies with batches left to hand out. Reports the rows, the targets lost and written twice (both 0 when
    the run recovered), the share of texts equal to the in-process run's, the workers lost, and wall seconds."""
    checks.count(workers, "workers")
    options, space, held_out, report = _prepare(n, space, bank, targets, batch_size, seed, options)
    with tempfile.TemporaryDirectory(prefix="unembed-bench-scale-") as temporary:
        folder = Path(temporary)
        job = _job(folder, space, held_out, bank=bank, batch_size=batch_size, seed=seed, progress=False, **options)
        _say(progress, f"in process: {len(held_out)} targets")
        report["runs"]["in_process"] = _drive(job, folder / "in_process", dict(os.environ))
        _say(progress, f"starting a cluster of a head and {workers} node(s)")
        started = time.perf_counter()
        with LocalCluster(workers=workers) as cluster:
            report["cluster"] = {"nodes": ["head (0 CPUs)", *(f"node_{i} (1 CPU)" for i in range(1, workers + 1))], "killed_node": "node_1"}
            report["cluster"]["start_seconds"] = time.perf_counter() - started
            on_cluster = {**job, "ray": True, "address": cluster.address, "workers": workers}
            _say(progress, f"on the cluster at {cluster.address}, {workers} workers; node_1 is killed after the first shard")
            report["runs"]["cluster"] = _drive(on_cluster, folder / "cluster", cluster.env, kill=lambda: cluster.kill_node("node_1"))
        texts = {name: {row["id"]: row["text"] for row in read_run(folder / name).to_pylist()} for name in report["runs"]}
        ids = Counter(read_run(folder / "cluster").column("id").to_pylist())
    expected = {str(i) for i in range(len(held_out))}  # a .npy's ids are its row numbers
    report["rows"] = sum(ids.values())
    report["lost_targets"] = len(expected - set(ids))
    report["duplicate_targets"] = sum(count > 1 for count in ids.values())
    report["same_texts_as_in_process"] = sum(texts["cluster"].get(key) == text for key, text in texts["in_process"].items()) / len(held_out)
    return report


def _prepare(n, space, bank, targets, batch_size: int, seed: int, options: dict):
    """What both benches start from: the loop's options, the space, the held-out targets and the report's head."""
    checks.count(n, "n")
    options = _options(options)
    space = load_space(space)
    held_out = held_out_targets(targets or bank, n, seed)
    return options, space, held_out, _head(held_out, space.spec, bank, batch_size, seed, options)


def _options(options: dict) -> dict:
    """The bench's loop: `mutate` without the fluency gate, short; `options` override."""
    return {
        "generator": "mutate",
        "fluency": False,
        "steps": BENCH_STEPS,
        "requested": BENCH_REQUESTED,
        "keep": BENCH_KEEP,
        "patience": 2,
        **options,
    }


def _head(held_out: list[str], space: str, bank, batch_size: int, seed: int, options: dict) -> dict:
    return {
        "n": len(held_out),
        "space": space,
        "bank": str(bank),
        "batch_size": batch_size,
        "generator": options.get("generator"),
        "settings": {**options, "seed": seed},
        "runs": {},
    }


def _job(folder: Path, space, held_out: list[str], **settings) -> dict:
    """`run_job`'s arguments, but --out: the held-out captions embedded as targets, and excluded from the bank."""
    np.save(folder / "targets.npy", space.embed_text(held_out), allow_pickle=False)
    (folder / "held_out.txt").write_text("\n".join(held_out) + "\n", encoding="utf-8")
    return {"targets": str(folder / "targets.npy"), "space": space.spec, "exclude": str(folder / "held_out.txt"), **settings}


# The driver of one run: `run_job` in a fresh Python, its report as JSON on stdout, a lost worker's warning on stderr.
DRIVER = """import json, sys
from unembed.cli import configure_logging
from unembed.runner import run_job
configure_logging()
job = json.loads(sys.argv[1])
report = run_job(job.pop("targets"), job.pop("out"), **job)
print(json.dumps({key: getattr(report, key) for key in ("seconds", "startup_seconds", "inverted", "failed")}))
"""
LOST = "a Ray worker was lost"  # what the engine logs for each worker lost


def _say(progress: bool, message: str) -> None:
    if progress:
        log.info(message)


def _drive(job: dict, out: Path, env: dict, *, kill=None) -> dict:
    """Run `job` into `out` in a driver process; `kill()` once its first shard is written, the driver paused meanwhile."""
    log = out.with_suffix(".log")
    started = time.perf_counter()
    with open(log, "w") as stderr:
        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER, json.dumps({**job, "out": str(out)}, default=str)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            cwd=out.parent,  # Ray puts the driver's folder on its workers' sys.path: this one holds no code
            text=True,
        )
        try:
            killed = None
            if kill is not None:
                while not list(out.glob("part-*.parquet")):
                    if driver.poll() is not None:
                        raise RunnerError(f"the driver ended before its first shard: {log.read_text()[-3000:]}")
                    time.sleep(0.05)
                driver.send_signal(signal.SIGSTOP)
                try:
                    shards, processes = len(list(out.glob("part-*.parquet"))), kill()
                finally:
                    driver.send_signal(signal.SIGCONT)
                killed = {"after_shards": shards, "processes": len(processes), "seconds_into_run": time.perf_counter() - started}
            stdout, _ = driver.communicate()
        finally:
            driver.kill()
    if driver.returncode:
        raise RunnerError(f"the run into {out.name} failed ({driver.returncode}): {log.read_text()[-3000:]}")
    # The report is the last line that is JSON: Ray may print a lost node's notice on the driver's stdout too.
    report = next(line for line in reversed(stdout.splitlines()) if line.startswith("{"))
    run = {"wall_seconds": time.perf_counter() - started, **json.loads(report)}
    if kill is not None:
        run |= {"killed": killed, "workers_lost": log.read_text().count(LOST)}
    return run
