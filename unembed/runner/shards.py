"""The predictions: Parquet shards in the output folder, one per batch, each written atomically.

Shard `part-NNNNNN.parquet` holds the rows of batch NNNNNN (targets NNNNNN*batch_size onwards). A retry
of some of its rows rewrites the shard with the old rows that were fine and the new ones, so the
folder never holds two rows of one id; pyarrow reads the folder as one table (`read_run`).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import atomic
from ..errors import RunnerError

PREDICTIONS = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("score", pa.float64()),
        ("bootstrap_text", pa.string()),
        ("bootstrap_score", pa.float64()),
        ("steps", pa.int32()),
        ("seconds", pa.float64()),
        ("llm_calls", pa.int32()),
        ("error", pa.string()),  # null when the row is fine; a row with an error is retried by the next run
    ]
)


def shard_path(out: Path, batch: int) -> Path:
    return out / f"part-{batch:06d}.parquet"


def read_shards(out: Path) -> dict[int, pa.Table]:
    """The shards already in `out`, by batch number."""
    shards = {}
    for path in sorted(out.glob("part-*.parquet")):
        try:
            shards[int(path.stem.removeprefix("part-"))] = pq.read_table(path, schema=PREDICTIONS)
        except (pa.ArrowException, OSError, ValueError) as error:
            # Shards are renamed into place whole, so this is damage from outside: say so rather than guess.
            raise RunnerError(f"cannot read the shard {path} ({error}). Delete it to invert its targets again.") from error
    return shards


def write_shard(out: Path, batch: int, rows: list[dict], earlier: pa.Table | None = None) -> pa.Table:
    """Write batch `batch`'s rows, with the rows of `earlier` (its shard so far) whose ids they do not replace."""
    table = pa.Table.from_pylist(rows, schema=PREDICTIONS)
    if earlier is not None:
        replaced = {row["id"] for row in rows}
        kept = earlier.filter(pa.array([value not in replaced for value in earlier.column("id").to_pylist()], pa.bool_()))
        table = pa.concat_tables([kept, table])
    atomic.save_parquet(shard_path(out, batch), table)
    return table


def read_run(out: str | Path) -> pa.Table:
    """Every row of a run's output folder, as one table."""
    shards = read_shards(Path(out))
    return pa.concat_tables([shards[batch] for batch in sorted(shards)]) if shards else PREDICTIONS.empty_table()
