"""`unembed bench scale` (`run_scale`): the same `unembed run` job in process, on 1 Ray worker and on 2; targets per
minute, the ratios between them, peak memory per worker, and whether the three runs agree on every text.

Targets are held-out captions (removed from the bank's bootstrap with the job's exclude list),
embedded with the space; the generator is `mutate` without the fluency gate by default, so the
figure is the loop's own cost (encoder and bank), not an LLM's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import checks
from ..evaluation import held_out_targets
from ..runner import read_run, run_job
from ..spaces import load_space

BENCH_STEPS = 4
BENCH_REQUESTED = 20
BENCH_KEEP = 20


def run_scale(*, n=200, space="minilm", bank="mils-image", targets=None, batch_size=8, seed=0, progress=True, **options) -> dict:
    """The report. targets: a caption file or named source of held-out targets (default: the bank's own
    source); `options` go to `run_job` (generator mutate without the fluency gate, steps, requested,
    keep and patience default to the bench's)."""
    checks.count(n, "n")
    options = {
        "generator": "mutate",
        "fluency": False,
        "steps": BENCH_STEPS,
        "requested": BENCH_REQUESTED,
        "keep": BENCH_KEEP,
        "patience": 2,
        **options,
    }
    space = load_space(space)
    held_out = held_out_targets(targets or bank, n, seed)
    report = {
        "n": len(held_out),
        "space": space.spec,
        "bank": str(bank),
        "batch_size": batch_size,
        "generator": options.get("generator"),
        "settings": {**options, "seed": seed},
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="unembed-bench-scale-") as temporary:
        folder = Path(temporary)
        np.save(folder / "targets.npy", space.embed_text(held_out), allow_pickle=False)
        (folder / "held_out.txt").write_text("\n".join(held_out) + "\n", encoding="utf-8")
        job = dict(
            space=space.spec, bank=bank, exclude=folder / "held_out.txt", batch_size=batch_size, seed=seed, progress=progress, **options
        )
        texts = {}
        engines: tuple[tuple[str, dict[str, Any]], ...] = (
            ("in_process", {}),
            ("ray_1_worker", {"ray": True, "workers": 1}),
            ("ray_2_workers", {"ray": True, "workers": 2}),
        )
        for name, engine in engines:
            out = folder / name
            result = run_job(folder / "targets.npy", out, **job, **engine)
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
