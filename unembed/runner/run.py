"""`run_job`: invert a collection into Parquet shards, resumably, in this process or on Ray."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .. import checks
from ..errors import InputError
from ..generators import default_generator
from ..index import collect_captions, resolve_bank
from ..inverter import InversionConfig
from ..paths import exclusive, refuse_special
from ..spaces import Space, load_space
from .engines import START_SECONDS, EngineStats, in_process, on_ray, ray_settings
from .job import Job, claim
from .shards import read_shards, write_shard
from .targets import read_targets
from .worker import BatchInverter


@dataclass
class RunReport:
    """total: targets in the job; skipped: done by earlier runs; inverted: rows written by this run, of which
    failed have an error (retried by the next run); seconds: this run's inverting, after startup_seconds of
    reading, checking and loading the workers; pids and peak_rss (bytes) of the workers."""

    out: Path
    total: int
    skipped: int = 0
    inverted: int = 0
    failed: int = 0
    seconds: float = 0.0
    startup_seconds: float = 0.0
    pids: list[int] = field(default_factory=list)
    peak_rss: list[int] = field(default_factory=list)


def run_job(
    targets: str | os.PathLike,
    out: str | os.PathLike,
    *,
    space: str | Space = "minilm",
    bank: str | None = None,
    generator: str | None = None,
    fallback: str | None = None,
    modality: str | None = None,
    exclude: str | os.PathLike | Sequence[str] | None = None,
    batch_size: int = 16,
    ray: bool = False,
    address: str | None = None,
    workers: int = 1,
    cpus_per_worker: float = 1,
    gpus_per_worker: float = 0,
    ray_start_timeout: float = START_SECONDS,
    progress: bool = False,
    **settings,
) -> RunReport:
    """Invert every target at `targets` (see `read_targets`) into shards in the folder `out`.

    Running it again with the same arguments skips the targets done, retries those that failed and
    never writes an id twice; other settings or targets for the same `out` are refused. Everything is
    checked (targets, exclude file, settings, components) before the first batch.
    space/bank/generator/fallback: specs (or a Space, in process) as `invert_many` takes them;
    modality: the prompt and MILS's defaults (default: the media's, image for vectors);
    exclude: a caption file (or the captions) the bank bootstrap skips, for held-out evaluation;
    ray: run on Ray, started here with `workers` actors of `cpus_per_worker` CPUs (torch threads) and
    `gpus_per_worker` GPUs, or on the cluster at `address`, its workers placed within `ray_start_timeout`
    seconds; settings: `invert_many`'s (steps, seed, ...). One run at a time per `out`: a second waits for it.
    """
    started = time.perf_counter()
    out = Path(out)
    if ray:  # before any model loads
        ray_settings(
            address=address,
            workers=workers,
            cpus_per_worker=cpus_per_worker,
            gpus_per_worker=gpus_per_worker,
            start_timeout=ray_start_timeout,
        )
    space = load_space(space)
    excluded = _excluded(exclude)
    found = read_targets(targets, space, progress=progress)
    modality = modality or found.modality or "image"
    generator = generator or default_generator(space)  # recorded in the job, so a resume uses the same one
    _check_settings(space, generator, modality, settings)
    # Built (and cached) once here, not by every worker at once; its digest ties the output to this very bank.
    resolved = resolve_bank(bank, space, modality)
    if excluded and not set(resolved.texts) - set(excluded):  # every row would fail with nothing to start from
        raise InputError(
            f"--exclude names every one of the bank's {len(resolved)} captions: the loop would have no text to start from. "
            "Exclude only the held-out targets' captions, or give a larger --bank."
        )
    job = Job(
        space=space.spec,
        bank=None if bank is None else str(bank),
        generator=generator,
        fallback=fallback,
        modality=modality,
        settings=settings,
        exclude=excluded,
        batch_size=batch_size,
        bank_sha256=resolved.digest(),
    )
    with exclusive(out, "run"):  # a second run of the same --out waits, then finds the targets done
        claim(out, job, found.digest, len(found.ids))
        shards = read_shards(out)
        done = {row["id"] for table in shards.values() for row in table.select(["id", "error"]).to_pylist() if row["error"] is None}
        report = RunReport(out=out, total=len(found.ids), skipped=len(done & set(found.ids)))
        groups: dict[int, list[int]] = {}
        for position, target in enumerate(found.ids):
            if target not in done:
                groups.setdefault(position // job.batch_size, []).append(position)
        batches = [(number, [found.ids[i] for i in positions], found.vectors[positions]) for number, positions in groups.items()]
        if not batches:
            report.startup_seconds = time.perf_counter() - started
            return report

        stats = EngineStats()
        if ray:
            del resolved  # each worker loads its own (and checks its digest): the driver need not hold it meanwhile
            engine = {"cpus_per_worker": cpus_per_worker, "gpus_per_worker": gpus_per_worker, "start_timeout": ray_start_timeout}
            results = on_ray(BatchInverter, (job,), batches, stats, address=address, workers=workers, progress=progress, **engine)
        else:
            results = in_process(job, batches, stats, space=space, bank=resolved)
        bar = tqdm(total=report.total, initial=report.skipped, desc="run", unit="row", disable=not progress, dynamic_ncols=True)
        try:
            for number, rows in results:
                shards[number] = write_shard(out, number, rows, shards.get(number))
                report.inverted += len(rows)
                report.failed += sum(row["error"] is not None for row in rows)
                bar.update(len(rows))
        finally:
            bar.close()
    report.pids, report.peak_rss = stats.pids, stats.peak_rss
    report.startup_seconds = stats.ready_at - started
    report.seconds = time.perf_counter() - stats.ready_at
    return report


def _excluded(exclude) -> tuple[str, ...]:
    if exclude is None:
        return ()
    if isinstance(exclude, (str, os.PathLike)):
        refuse_special(exclude, "--exclude file")  # a FIFO is not missing: say what it is
        if Path(exclude).is_dir():
            raise InputError(f"--exclude {exclude} is a folder. Give a text file with one caption per line.")
        if not Path(exclude).is_file():
            raise InputError(f"no such exclude file: {exclude}. Give a text file with one caption per line.")
        return tuple(collect_captions([exclude]))
    return tuple(collect_captions(texts=exclude))


def _check_settings(space: Space, generator: str, modality: str, settings: dict) -> None:
    """The inversion settings, checked as `invert_many` will check them, before any worker starts."""
    if settings.get("timeout") is not None:
        checks.seconds(settings["timeout"])
    if settings.get("fluency") not in (None, True, False):
        raise InputError(f"fluency is True, False or None (the generator decides); got {settings['fluency']!r}.")
    given = {key: value for key, value in settings.items() if key not in ("timeout", "fluency")}
    InversionConfig.resolve(space=space.spec, generator=generator, preferred_shown=None, modality=modality, **given)
