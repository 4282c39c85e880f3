"""`unembed bench decoder` (`run_decoder`): a decoder alone, one pass, on held-out targets (vec2text's zero-step figure).

For each target set, every target embedding is decoded once: the greedy text (what the decoder says with no
search), and `samples` texts of which the one nearest the target is kept (what one scored pass of the
`decoder` generator finds). Both beside the caption bank's top-1 for the same targets, as the baseline, with
fluency (SmolLM2 nats/token) of each and of the true texts. The decoder's training cost comes from its config.
"""

from __future__ import annotations

import time

import numpy as np

from .. import checks
from ..decoder import load_decoder, shipped_decoder
from ..errors import InputError
from ..evaluation import held_out_targets
from ..generators import default_fluency
from ..index import resolve_bank, source_modality
from ..spaces import load_space
from .invert import TARGET_SETS, exact_match_rate

# target set -> the bank whose top-1 is the baseline (a target set that no bank holds uses the image bank)
DEFAULT_TARGETS = ("mils-image", "mils-audio", "everyday")


def run_decoder(*, space="minilm", decoder=None, targets=DEFAULT_TARGETS, limit=50, samples=20, seed=0, progress=True) -> dict:
    """The report. decoder: a folder (default: the one unembed ships for the space); targets: named sources (their
    held-out split), caption files or TARGET_SETS names; limit: a seeded sample of each."""
    checks.count(limit, "limit")
    checks.count(samples, "samples")
    space = load_space(space)
    folder = decoder or shipped_decoder(space)
    if folder is None:
        raise InputError(f"no decoder for space {space.spec!r}: give --decoder DIR (unembed train-decoder makes one).")
    model = load_decoder(folder, space)
    fluency = default_fluency()
    report: dict = {"space": space.spec, "decoder": str(folder), "samples": samples, "seed": seed, "training": _training_cost(model.config)}
    for name in targets:
        source = TARGET_SETS.get(name, name)
        texts = held_out_targets(source, limit, seed, split=name not in TARGET_SETS)
        vectors = space.embed_text(texts)
        bank = resolve_bank(name if name not in TARGET_SETS else "mils-image", space, source_modality(name) or "image")
        found = bank.search(vectors, k=1, exclude=texts)
        started = time.perf_counter()
        decoded = model.generate(vectors, samples, seed=seed)
        seconds = (time.perf_counter() - started) / len(texts)
        greedy = [row[0] for row in decoded]
        scored = [space.embed_text(row) @ vector for row, vector in zip(decoded, vectors, strict=True)]
        best = [row[int(np.argmax(scores))] for row, scores in zip(decoded, scored, strict=True)]
        report[name] = {
            "n": len(texts),
            "bank_top1_cosine": float(found.scores[:, 0].mean()),
            "greedy_cosine": float(np.mean([scores[0] for scores in scored])),  # the first text decoded is the greedy one
            "best_of_samples_cosine": float(np.mean([scores.max() for scores in scored])),
            "greedy_exact_match_rate": exact_match_rate(greedy, texts),
            "best_of_samples_exact_match_rate": exact_match_rate(best, texts),
            "target_fluency": float(np.mean(fluency.score(texts))),
            "bank_top1_fluency": float(np.mean(fluency.score([row[0] for row in found.texts]))),
            "greedy_fluency": float(np.mean(fluency.score(greedy))),
            "best_of_samples_fluency": float(np.mean(fluency.score(best))),
            "decode_seconds_per_target": seconds,
            "examples": [{"target": t, "greedy": g, "best_of_samples": b} for t, g, b in zip(texts[:10], greedy, best, strict=False)],
        }
    return report


def _training_cost(config: dict) -> dict:
    """What training the decoder cost, and per million captions for one epoch (the figure that scales)."""
    training = config["training"]
    seen = training["captions"] * training["epochs"]
    return {
        "captions": training["captions"],
        "epochs": training["epochs"],
        "seconds": training["seconds"],
        "threads": training["threads"],
        "machine": training["machine"],
        "seconds_per_million_caption_epochs": training["seconds"] / seen * 1e6 if seen else None,
        "validation_loss": training["validation_loss"],
    }
