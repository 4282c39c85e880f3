"""Eval sets: targets whose true captions are known, written in the files `unembed run` and `unembed eval` read.

An eval set folder holds:
- `targets.parquet`: `id` (string) and `vector` (list<float32>, unit rows of the set's space), one row
  per target: the input of `unembed run`;
- `references.jsonl`: `{"id", "references": [...]}` per target: the references of `unembed eval`;
- `exclude.txt`: every reference caption, one per line, for `unembed run --exclude`: the bank's
  bootstrap must not hand back the answer (held-out evaluation);
- `eval_set.json`: how it was made (spec, space, modality, bank, n, seed) and the commands that use it.

Eval sets are a registry like every pluggable kind (`register_eval_set(name, factory)`, specs
`NAME[:ARGUMENT]`): `factory(argument, n=, seed=, space=)` returns an `EvalSet`. Built in here:
`captions:SOURCE` (held-out captions of any caption file or named source, embedded as text) and its
shorthands `mils-image` / `mils-audio`; MiniBind registers `minibind-image` / `minibind-audio`.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import atomic, checks, jsontext
from ..errors import EvaluationError, InputError
from ..index import collect_captions, is_held_out, source_modality
from ..registry import Registry, require
from ..spaces import load_space
from ..version import __version__

EVAL_SETS: Registry = Registry("eval set", None, EvaluationError)
FILES = {"targets": "targets.parquet", "references": "references.jsonl", "exclude": "exclude.txt", "manifest": "eval_set.json"}


@dataclass
class EvalSet:
    spec: str  # the eval set spec that makes it again (with n and seed)
    space: str  # the space spec the vectors are in
    modality: str  # what the targets were (image, audio, text): the bank modality to invert them with
    bank: str  # the caption source an inversion of these targets starts from
    ids: list[str]
    vectors: np.ndarray  # (n, dim) float32 unit rows
    references: list[list[str]]  # per target, its true captions
    seed: int

    @property
    def exclude(self) -> list[str]:
        """Every reference caption once: what a bank bootstrap must skip."""
        return list(dict.fromkeys(caption for captions in self.references for caption in captions))

    def manifest(self) -> dict:
        return {
            "spec": self.spec,
            "space": self.space,
            "modality": self.modality,
            "bank": self.bank,
            "n": len(self.ids),
            "seed": self.seed,
            "dim": int(self.vectors.shape[1]),
            "files": FILES,
            "unembed_version": __version__,
        }

    def write(self, folder: str | os.PathLike, *, overwrite: bool = False) -> dict[str, Path]:
        """Write the four files into `folder` (each atomically); refuses to replace another eval set unless `overwrite`."""
        folder = Path(folder)
        manifest = self.manifest()
        existing = folder / FILES["manifest"]
        ours = [folder / file for key, file in FILES.items() if key != "manifest" and (folder / file).exists()]
        if ours and not existing.is_file() and not overwrite:  # the user's own files, under the names an eval set writes
            raise InputError(
                f"{folder} holds {', '.join(path.name for path in ours)} but is not an eval set: writing one there would "
                "replace them. Choose another folder, or pass overwrite=True (--overwrite) to replace them."
            )
        if existing.is_file() and not overwrite:
            try:
                old = jsontext.parse(existing.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise InputError(f"{existing} is not an eval set's manifest ({error}). Choose another folder, or --overwrite.") from error
            old = old if isinstance(old, dict) else {}
            identity = ("spec", "space", "n", "seed")
            same = {key: old.get(key) for key in identity} == {key: manifest[key] for key in identity}
            if not same:
                raise InputError(
                    f"{folder} already holds another eval set ({old.get('spec')}, n={old.get('n')}, seed={old.get('seed')}). "
                    "Choose another folder, or pass overwrite=True (--overwrite) to replace it."
                )
        paths = {name: folder / file for name, file in FILES.items()}
        atomic.save_parquet(paths["targets"], targets_table(self.ids, self.vectors))
        atomic.write_text(
            paths["references"],
            "".join(
                json.dumps({"id": key, "references": captions}) + "\n" for key, captions in zip(self.ids, self.references, strict=True)
            ),
        )
        atomic.write_text(paths["exclude"], "".join(caption + "\n" for caption in self.exclude))
        atomic.write_json(paths["manifest"], manifest)
        return paths


def targets_table(ids: list[str], vectors: np.ndarray):
    """The TARGETS table (`unembed run`'s input): `id` (string) and `vector` (list<float32>)."""
    arrow = require("pyarrow", package="pyarrow", needed_by="writing targets (Parquet)")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    offsets = arrow.array(np.arange(len(vectors) + 1, dtype=np.int32) * vectors.shape[1])
    return arrow.table(
        {
            "id": arrow.array(ids, arrow.string()),
            "vector": arrow.ListArray.from_arrays(offsets, arrow.array(vectors.reshape(-1))),
        }
    )


def load_eval_set(folder: str | os.PathLike) -> EvalSet:
    """An eval set folder written by `EvalSet.write` (`unembed eval-set`), read back."""
    parquet = require("pyarrow.parquet", package="pyarrow", needed_by="reading targets (Parquet)")
    folder = Path(folder)
    paths = {name: folder / file for name, file in FILES.items()}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise InputError(
            f"{folder} is not an eval set: {', '.join(missing)} missing. Write one with `unembed eval-set SPEC --out {folder}`."
        )
    manifest = _read_json(paths["manifest"], folder)
    lacking = [key for key in ("spec", "space", "modality", "bank", "dim", "seed") if not isinstance(manifest, dict) or key not in manifest]
    if lacking or not isinstance(manifest["dim"], int) or isinstance(manifest["dim"], bool) or manifest["dim"] < 1:
        what = f"it lacks {', '.join(lacking)}" if lacking else f"its dim {manifest['dim']!r} is not a whole number above 0"
        raise InputError(f"{paths['manifest']} is not an eval set's manifest ({what}). {_rewrite(folder)}")
    table = parquet.read_table(paths["targets"])
    vectors = table.column("vector").combine_chunks().flatten().to_numpy().reshape(len(table), manifest["dim"])
    lines = [_read_json(paths["references"], folder, line) for line in _read_text(paths["references"], folder).splitlines() if line.strip()]
    if not all(isinstance(entry, dict) and "id" in entry and isinstance(entry.get("references"), list) for entry in lines):
        raise InputError(f'{paths["references"]} has a line that is not {{"id": ..., "references": [...]}}. {_rewrite(folder)}')
    by_id = {str(entry["id"]): entry["references"] for entry in lines}
    ids = [str(key) for key in table.column("id").to_pylist()]
    if missing := [key for key in ids if key not in by_id]:
        raise InputError(f"{paths['references']} has no references for the target(s) {', '.join(missing[:5])}. {_rewrite(folder)}")
    return EvalSet(
        manifest["spec"],
        manifest["space"],
        manifest["modality"],
        manifest["bank"],
        ids,
        vectors.astype(np.float32),
        [by_id[key] for key in ids],
        manifest["seed"],
    )


def _rewrite(folder: Path) -> str:
    return f"Write the eval set again with `unembed eval-set SPEC --out {folder} --overwrite`."


def _read_text(path: Path, folder: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path} cannot be read ({error}). {_rewrite(folder)}") from error


def _read_json(path: Path, folder: Path, text: str | None = None):
    """The JSON in `path` (or its line `text`): damaged JSON, nested too deep included, is an InputError naming the file."""
    text = _read_text(path, folder) if text is None else text
    try:
        return jsontext.parse(text)
    except ValueError as error:
        raise InputError(f"{path} is not valid JSON ({error}): it is damaged. {_rewrite(folder)}") from error


def register_eval_set(name: str, factory, **info) -> None:
    """Make `make_eval_set("NAME[:ARGUMENT]", n=, seed=, space=)` call `factory(ARGUMENT, n=, seed=, space=)`."""
    EVAL_SETS.register(name, factory, **info)


def available_eval_sets() -> list[str]:
    return EVAL_SETS.available()


def make_eval_set(spec: str, *, n: int = 100, seed: int = 0, space: str | None = None) -> EvalSet:
    """The eval set `spec` with `n` targets drawn with `seed`, embedded in `space` (None: the set's own)."""
    return EVAL_SETS.load(spec, n=checks.count(n, "n"), seed=checks.count(seed, "seed", minimum=0), space=space)


def held_out_targets(source: str, limit: int | None, seed: int, *, split: bool = False) -> list[str]:
    """A seeded sample of `limit` captions from a file or named source (all of them without a limit); with `split`,
    from its held-out split only (`unembed.index.is_held_out`: what no decoder trained on the source has seen)."""
    captions = collect_captions([source])
    if split:
        captions = [caption for caption in captions if is_held_out(caption)]
    if limit is not None and limit < len(captions):
        captions = random.Random(seed).sample(captions, limit)
    return captions


def caption_eval_set(argument: str, *, n: int, seed: int, space: str | None = None) -> EvalSet:
    """`captions:SOURCE`: `n` captions drawn from SOURCE (a caption file or named source), held out of the bank.

    Targets are the captions' text embeddings in `space` (default minilm); each caption is its own one
    reference, and the bank to invert them with is SOURCE itself, minus exclude.txt.
    """
    if not argument:
        raise InputError("the captions eval set needs a source: captions:mils-image, captions:my_captions.txt, ...")
    # A named source's targets come from its held-out split, which no decoder trained on it has seen; a file's from all of it.
    captions = held_out_targets(argument, n, seed, split=not Path(argument).is_file())
    if len(captions) < n:
        raise InputError(f"{argument} holds {len(captions)} captions, fewer than n={n}. Ask for at most {len(captions)}.")
    embedding = load_space(space or "minilm")
    vectors = embedding.embed_text(captions)
    modality = source_modality(argument) or "text"
    named = argument if argument in ("mils-image", "mils-audio") else f"captions:{argument}"
    return EvalSet(
        named,
        embedding.spec,
        modality,
        argument,
        [f"{index:05d}" for index in range(n)],
        vectors,
        [[caption] for caption in captions],
        seed,
    )


def _source_eval_set(source: str):
    """`mils-image` for `captions:mils-image`: a named source's eval set, which takes no argument."""

    def factory(argument: str, **options) -> EvalSet:
        if argument:
            raise InputError(f"the {source} eval set takes no argument (got {argument!r}); use captions:FILE for your own captions.")
        return caption_eval_set(source, **options)

    return factory


register_eval_set("captions", caption_eval_set)
register_eval_set("mils-image", _source_eval_set("mils-image"))
register_eval_set("mils-audio", _source_eval_set("mils-audio"))
