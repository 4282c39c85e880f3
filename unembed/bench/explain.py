"""`unembed bench explain` (`run_explain`): are directions, probes and SAE features of MiniBind (or MiniLM) named right?

Ground truth comes from MiniBind's world. Fresh renders (a seed training never used) of one-object
image scenes and one-event sounds are embedded and split in two halves: probes and the SAE learn on
the first, directions and the SAE's feature matching are measured on the second. With `space="minilm"`
(a text space), each scene is a random paraphrase of its caption (`world.paraphrase`: other
words, word orders and framings), embedded as text.

- direction (every attribute value of the world, image and audio): the mean embedding of the scenes
  with the value minus the mean of those the attribute applies to with another value (pitch only for
  sounds that have one), scored centred on the bank's texts.
- probe: a logistic regression per attribute value (torch, seeded), on the same population.
- SAE feature: a small ReLU sparse autoencoder (torch, seeded) on image and audio embeddings together;
  a feature is matched to the attribute value whose scenes it fires on best (F1 of firing vs having
  the value, at least MATCH_F1), and only matched features are explained.

An explanation is right when the world's parser finds the attribute value in the text and no other
value of that attribute. `bank_top1` is the bank's best text by the same objective (the loop's
bootstrap); `loop` is the loop's best. Bank: the world's own captions of the modality (every scene's
canonical caption), so the bank can name every value and the loop has to beat a bank that holds the
answer; `bank="mils"` uses MILS's open-world captions instead.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import atomic
from ..errors import InputError
from ..explain import MATCH_F1, bank_baseline, directions, explain, match_features, train_probes, train_sae
from ..index import resolve_bank
from ..minibind.ground_truth import ATTRIBUTES, embedded_scenes, labels, named_right
from ..objectives import Direction, Probe, SparseAutoencoder
from ..registry import require
from ..spaces import load_space

MILS_BANKS = {"image": "mils-image", "audio": "mils-audio"}
WORLD_BANKS = {"image": "minibind-image", "audio": "minibind-audio"}


def run_explain(
    *,
    space="minibind",
    n=400,
    seed=777,
    bank="world",
    generator="edit",
    steps=3,
    requested=20,
    keep=10,
    sae_features=64,
    sae_path=None,
    progress=True,
) -> dict:
    """The report. space: minibind (rendered pictures and sounds) or minilm (a paraphrase of each scene's caption,
    as text); n: scenes per modality, half to train, half to test; seed: render and training seed (MiniBind's
    training used 0..1001 for renders); bank: world (MiniBind's canonical captions of the modality) or mils
    (MILS's open-world captions); generator: the loop's (an LLM is too slow here); sae_features: the SAE's
    width; sae_path: where to save the trained SAE (safetensors; default: a temporary file, not kept)."""
    if space not in ("minibind", "minilm"):
        raise InputError(f"the explain bench runs on minibind or minilm; got space {space!r}.")
    if bank not in ("world", "mils"):
        raise InputError(f"the explain bench's bank is world or mils; got {bank!r}.")
    if n < 20:
        raise InputError(f"n must be at least 20 (half trains, half tests); got {n}.")
    settings = dict(
        space=space,
        n=n,
        seed=seed,
        bank=bank,
        generator=generator,
        steps=steps,
        requested=requested,
        keep=keep,
        sae_features=sae_features,
        progress=progress,
    )
    if sae_path:
        return _run_explain(**settings, sae_path=Path(sae_path))
    # The SAE file is read back only while the bench runs.
    with tempfile.TemporaryDirectory(prefix="unembed-bench-explain-") as folder:
        report = _run_explain(**settings, sae_path=Path(folder) / "sae.safetensors")
    report["sae"]["path"] = None
    return report


def _run_explain(*, space, n, seed, bank, generator, steps, requested, keep, sae_features, sae_path, progress) -> dict:
    space = load_space(space)
    rng = np.random.default_rng(seed)
    data: dict[str, dict[str, Any]] = {}
    for modality in ATTRIBUTES:
        scenes, vectors = embedded_scenes(modality, n, rng, space)
        pairs, has, applies = labels(modality, scenes)
        half = n // 2
        data[modality] = dict(
            pairs=pairs, train=(vectors[:half], has[:half], applies[:half]), test=(vectors[half:], has[half:], applies[half:])
        )

    started = time.perf_counter()
    sae_tensors = train_sae(np.vstack([data[m]["train"][0] for m in ATTRIBUTES]), features=sae_features, seed=seed)
    sae_seconds = time.perf_counter() - started
    atomic.write_bytes(sae_path, require("safetensors.numpy", extra="sae", needed_by="saving the SAE").save(sae_tensors))
    sae = SparseAutoencoder(sae_path)
    # Matched on both modalities' test scenes at once: a feature that fires on sounds is no colour.
    test_vectors = np.vstack([data[m]["test"][0] for m in ATTRIBUTES])
    all_pairs = [(m, *pair) for m in ATTRIBUTES for pair in data[m]["pairs"]]
    all_has = np.zeros((len(test_vectors), len(all_pairs)), bool)
    row, column = 0, 0
    for m in ATTRIBUTES:
        block = data[m]["test"][1]
        all_has[row : row + len(block), column : column + block.shape[1]] = block
        row, column = row + len(block), column + block.shape[1]
    matches = match_features(sae.activations(test_vectors), all_has)

    report: dict = {
        "space": space.spec,
        "n": n,
        "seed": seed,
        "bank": bank,
        "generator": generator,
        "steps": steps,
        "requested": requested,
        "keep": keep,
        "sae": {
            "path": str(sae_path),
            "features": sae_features,
            "train_seconds": round(sae_seconds, 2),
            "matched": len(matches),
            "match_f1_min": MATCH_F1,
        },
    }
    cases = []  # (kind, modality, attribute, value, objective)
    for modality in ATTRIBUTES:
        pairs = data[modality]["pairs"]
        weight, bias = train_probes(*data[modality]["train"], seed=seed)
        for (attribute, value), direction, w, b in zip(pairs, directions(*data[modality]["test"]), weight, bias, strict=True):
            cases.append(("direction", modality, attribute, value, direction))
            cases.append(("probe", modality, attribute, value, Probe(w, b)))
    cases += [
        ("sae_feature", m, attribute, value, sae.feature(feature))
        for feature, value_index, _ in matches
        for m, attribute, value in [all_pairs[value_index]]
    ]

    rows: list[dict[str, Any]] = []
    for modality in ATTRIBUTES:
        captions = resolve_bank(MILS_BANKS[modality] if bank == "mils" else WORLD_BANKS[modality], space, modality)
        baseline = bank_baseline(captions, space, seed=seed)
        mine = [case for case in cases if case[1] == modality]
        objectives = [Direction(case[4], baseline=baseline) if case[0] == "direction" else case[4] for case in mine]
        explanations = explain(
            objectives,
            names=[f"{kind} {attribute}={value}" for kind, _, attribute, value, _ in mine],
            space=space,
            bank=captions,
            modality=modality,
            generator=generator,
            steps=steps,
            requested=requested,
            keep=keep,
            seed=seed,
            fluency=False,
            progress=progress,
        )
        for (kind, _, attribute, value, _), explanation in zip(mine, explanations, strict=True):
            rows.append(
                {
                    "kind": kind,
                    "modality": modality,
                    "attribute": attribute,
                    "value": value,
                    "objective": explanation.objective,
                    "bank_text": explanation.bank_text,
                    "bank_right": named_right(explanation.bank_text, modality, attribute, value),
                    "text": explanation.text,
                    "right": named_right(explanation.text, modality, attribute, value),
                    "bank_score": explanation.bank_score,
                    "score": explanation.score,
                    "lift": explanation.lift,
                    "seconds": explanation.seconds,
                }
            )
    for kind in ("direction", "probe", "sae_feature"):
        of_kind = [row for row in rows if row["kind"] == kind]
        report[kind] = {
            "n": len(of_kind),
            "bank_top1_accuracy": float(np.mean([row["bank_right"] for row in of_kind])) if of_kind else None,
            "loop_accuracy": float(np.mean([row["right"] for row in of_kind])) if of_kind else None,
            "mean_lift": float(np.mean([row["lift"] for row in of_kind])) if of_kind else None,
            "seconds_per_explanation": float(np.mean([row["seconds"] for row in of_kind])) if of_kind else None,
        }
    report["explanations"] = rows
    return report
