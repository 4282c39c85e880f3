"""A batch job: what to invert with which components and settings, and the manifest that ties an output folder to it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import atomic, checks, jsontext
from ..errors import RunnerError

MANIFEST = "_job.json"  # "_" first: pyarrow skips it when it reads the folder as one table
FORMAT = 2  # 2: the job records its bank's digest, so a bank rebuilt at the same path is another job


@dataclass(frozen=True)
class Job:
    """space/bank/generator/fallback: specs, as `invert_many` takes them; modality: the prompt and MILS's
    defaults; settings: the rest of `invert_many`'s (steps, requested, keep, seed, fluency, ...);
    exclude: bank captions the bootstrap skips; batch_size: targets per `invert_many` call and per shard
    (the targets' order cut into batches of this size, so a batch holds the same targets in every run);
    bank_sha256: the digest (`Bank.digest`) of the bank the spec resolved to when the job began, which every
    worker checks, because a path names a bank only until it is rebuilt (None: not checked)."""

    space: str
    bank: str | None
    generator: str
    fallback: str | None = None
    modality: str = "image"
    settings: dict = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    batch_size: int = 16
    bank_sha256: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "batch_size", checks.count(self.batch_size, "batch_size"))
        object.__setattr__(self, "exclude", tuple(self.exclude))

    def identity(self) -> dict:
        """What the output depends on, settings inline; the excluded captions by their sha256."""
        identity = asdict(self)
        identity.update(identity.pop("settings"))
        identity["exclude"] = hashlib.sha256("\n".join(self.exclude).encode("utf-8")).hexdigest()
        return identity


def claim(out: Path, job: Job, targets_digest: str, count: int) -> None:
    """Tie `out` to this job: write its manifest, or check that the one there is this job's.

    A folder of another job (other settings or targets) is refused, and so is anything that is not an
    output folder of ours, so a run never mixes rows of two jobs or writes into someone's files.
    """
    wanted = {"format": FORMAT, "targets": {"digest": targets_digest, "count": count}, "job": job.identity()}
    manifest = out / MANIFEST
    if out.exists() and not out.is_dir():
        raise RunnerError(f"--out {out} is a file. Give a folder (new, or one an earlier run of this job wrote).")
    if manifest.is_file():
        try:
            found = jsontext.parse(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise RunnerError(f"cannot read {manifest} ({error}). Give a new --out folder.") from error
        if found != json.loads(json.dumps(wanted)):
            changed = _differences(found, wanted)
            raise RunnerError(
                f"{out} holds the output of another job ({'; '.join(changed)}). Run with the bank, settings and targets "
                "that made it to resume it, or give a new --out folder for this job."
            )
        return
    if out.is_dir() and any(out.iterdir()):
        raise RunnerError(f"{out} is a folder that holds other files and no {MANIFEST}. Give a new or empty --out folder.")
    atomic.write_json(manifest, wanted)


def _bank_name(bank: str | None) -> str:
    return repr(bank) if bank else "the space's caption bank"


def _differences(found: dict, wanted: dict) -> list[str]:
    wanted = json.loads(json.dumps(wanted))
    if found.get("format") != FORMAT:
        return [f"run format {found.get('format')!r} then, {FORMAT} now; format 1 did not record its bank"]
    changed = []
    if found.get("targets") != wanted["targets"]:
        changed.append("other targets")
    old, new = found.get("job", {}), wanted["job"]
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        if key == "bank":  # None: the space's own
            changed.append(f"bank: {_bank_name(old.get(key))} then, {_bank_name(new.get(key))} now")
        elif key == "bank_sha256" and old.get("bank") == new.get("bank"):  # another bank by name is said above
            changed.append(
                f"the bank {_bank_name(new.get('bank'))} is not the one it used: it was rebuilt or replaced since (digest "
                f"{str(old.get(key))[:12]} then, {str(new.get(key))[:12]} now), and its answers would mix with the other's"
            )
        elif key != "bank_sha256":
            changed.append(f"{key}: {old.get(key)!r} then, {new.get(key)!r} now")
    return changed or [f"manifest format {found.get('format')!r}"]
