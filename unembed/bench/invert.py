"""`unembed bench invert` (`run_invert`): held-out captions, inverted; quality, fluency and cost against MILS's procedure.

Each target is a caption removed from the bank (held out), embedded with the space, and inverted.
Quality: cosine of the target with the returned text (vs the bank's best), exact matches, BLEU-4
against the held-out caption (pycocoevalcap's, corpus level, PTB-tokenised: `BLEU`), and fluency
(mean per-token log-likelihood under SmolLM2) of the returned texts beside the bank's best texts, so
a cosine bought with broken text shows. The MILS reference procedure (whole bank re-encoded per
target, no cache, no early stop, same generator, steps and candidates) runs in the same process on
the first `reference_limit` targets.
"""

from __future__ import annotations

import time
from importlib.resources import files

import numpy as np

from .. import checks
from ..evaluation import caption_scores, held_out_targets
from ..generators import candidate_key, default_fluency, default_generator, load_generator
from ..index import resolve_bank, source_modality
from ..inverter import cache_for, invert_many
from ..spaces import load_space

# Chosen so that 50 mils-image targets take 20-30 minutes on 2 cores with the embedded SmolLM2:
# 30 s per target at load ~2, 40 s at load 5-9 (README figures). SmolLM2 decoding is most of it.
BENCH_STEPS = 4
BENCH_REQUESTED = 20
BENCH_KEEP = 20
BLEU = "pycocoevalcap BLEU-4: corpus level, PTB-tokenised, the held-out caption as the one reference"

# Target sets shipped with the bench: texts that no caption bank holds (`--targets everyday`).
TARGET_SETS = {"everyday": files(__package__) / "data" / "everyday.txt"}


def bleu4(texts, targets) -> float:
    """The corpus BLEU-4 of `texts` against their held-out `targets` (see BLEU)."""
    return caption_scores({"texts": texts}, [[target] for target in targets], ["bleu"])["texts"]["BLEU-4"]


def exact_match_rate(texts, targets) -> float:
    """The share of `texts` that are their target, up to case, spacing and punctuation (`candidate_key`)."""
    return float(np.mean([candidate_key(text) == candidate_key(target) for text, target in zip(texts, targets, strict=True)]))


def _quality(results, targets, target_vectors, embedder, fluency) -> dict:
    texts = [result.text for result in results]
    vectors = embedder.embed(texts)
    return {
        "final_cosine": float(np.mean(np.sum(vectors * target_vectors, axis=1))),
        "exact_match_rate": exact_match_rate(texts, targets),
        "bleu4": bleu4(texts, targets),
        "fluency": float(np.mean(fluency.score(texts))),
        "improved_rate": float(np.mean([result.score > result.bootstrap_score + 1e-6 for result in results])),
    }


def run_invert(
    *,
    space="minilm",
    bank="mils-image",
    targets=None,
    limit=50,
    modality=None,
    reference_limit=5,
    progress=True,
    generator=None,
    seed=0,
    **options,
) -> dict:
    """The report. targets: a caption file or named source of held-out targets (default: the bank's own
    source), or a name in TARGET_SETS; limit: a seeded sample of this many; reference_limit: run MILS's
    reference procedure on this many of them (0: skip); `options` go to `invert_many` (steps, requested,
    keep, patience default to the bench's)."""
    if limit is not None:
        checks.count(limit, "limit")
    space = load_space(space)
    modality = modality or source_modality(bank) or "image"
    # A bank's own captions as targets: its held-out split, which no decoder trained on the source has seen.
    held_out = held_out_targets(TARGET_SETS.get(targets, targets or bank), limit, seed, split=(targets or bank) == bank)
    generator = load_generator(generator or default_generator(space))
    fluency = default_fluency()  # the benchmark's fixed judge (the same model as the loop's gate)
    target_vectors = space.embed_text(held_out)
    options = {"steps": BENCH_STEPS, "requested": BENCH_REQUESTED, "keep": BENCH_KEEP, "patience": 2, **options}
    options.update(
        space=space, bank=resolve_bank(bank, space, modality), generator=generator, modality=modality, seed=seed, exclude=held_out
    )

    started = time.perf_counter()
    results = invert_many(target_vectors, progress=progress, **options)
    seconds = time.perf_counter() - started
    bank_texts = [result.bootstrap_text for result in results]
    assert results[0].config is not None  # the loop records its settings
    report = {
        "n": len(held_out),
        "space": space.spec,
        "bank": str(bank),
        "generator": generator.spec,
        "config": results[0].config.to_dict(),
        "bank_top1_cosine": float(np.mean([result.bootstrap_score for result in results])),
        "bank_top1_exact_match_rate": exact_match_rate(bank_texts, held_out),
        "bank_top1_bleu4": bleu4(bank_texts, held_out),
        "bleu4_metric": BLEU,
        "bank_top1_fluency": float(np.mean(fluency.score(bank_texts))),
        "target_fluency": float(np.mean(fluency.score(held_out))),
        **_quality(results, held_out, target_vectors, cache_for(space), fluency),
        "seconds_per_target": seconds / len(held_out),
        "llm_calls_per_target": float(np.mean([result.llm_calls for result in results])),
        "steps_per_target": float(np.mean([len(result.history) - 1 for result in results])),
        "failed_steps": int(sum(record.failed for result in results for record in result.history)),
        "cache_hit_rate": results[0].cache["hit_rate"],
        "examples": [
            {"target": t, "bank_top1": r.bootstrap_text, "returned": r.text, "bank_top1_cosine": r.bootstrap_score, "final_cosine": r.score}
            for t, r in zip(held_out, results, strict=True)
        ],
    }
    if reference_limit:
        # MILS: every target scores the whole bank with the encoder and runs every step, no cache;
        # same generator, candidates and fluency gate, so quality is comparable and only the procedure differs.
        count = min(reference_limit, len(held_out))
        started = time.perf_counter()
        reference = []
        for index in range(count):
            reference += invert_many(
                target_vectors[index : index + 1],
                cache=False,
                bootstrap="encode",
                progress=False,
                **{**options, "patience": None, "seed": seed + index},
            )
        reference_seconds = time.perf_counter() - started
        ours = _quality(results[:count], held_out[:count], target_vectors[:count], cache_for(space), fluency)
        theirs = _quality(reference, held_out[:count], target_vectors[:count], cache_for(space), fluency)
        report.update({f"reference_{key}": value for key, value in theirs.items()})
        report.update(
            {
                "reference_n": count,
                "reference_seconds_per_target": reference_seconds / count,
                "reference_llm_calls_per_target": float(np.mean([result.llm_calls for result in reference])),
                "final_cosine_on_reference_targets": ours["final_cosine"],
                "fluency_on_reference_targets": ours["fluency"],
                "speedup_vs_reference": (reference_seconds / count) / report["seconds_per_target"],
            }
        )
    return report
