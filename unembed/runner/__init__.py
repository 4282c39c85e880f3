"""Batch jobs: invert a whole collection into Parquet shards, resumably, in process or on Ray (`unembed run`).

    run_job("targets.parquet", "out/", space="minilm", generator="mutate", ray=True, workers=2)

The job (targets, components, settings) is checked before any work and recorded in the output's
manifest; each batch of targets goes through `invert_many` and becomes one shard written atomically.
"""

from .job import MANIFEST, Job
from .run import RunReport, run_job
from .shards import PREDICTIONS, read_run
from .targets import Targets, read_targets
from .worker import BatchInverter

__all__ = ["run_job", "RunReport", "Job", "MANIFEST", "PREDICTIONS", "read_run", "Targets", "read_targets", "BatchInverter"]
