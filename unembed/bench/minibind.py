"""`unembed bench minibind` (`run_minibind`): how well MiniBind's encoders land on the right words, on held-out scenes.

Samples are fresh scenes whose attribute combinations were never seen in training
(world.is_held_out), rendered and embedded through the public `load_space("minibind")` API.

- `image_retrieval_top1` / `audio_retrieval_top1`: is the true canonical caption the nearest
  among ALL canonical captions of the scene's family (1728 one-object / 2256 two-object scenes,
  30 one-event / 364 two-event sounds)? Every other combination of attributes is a candidate.
- `*_bank_top1_parsed_accuracy` (baseline for inversion): search a FAISS flat bank holding every
  canonical caption of the modality's world plus MILS caption lines as distractors, parse the
  top-1 text with the world's parser, and count it right when every attribute is right.
- `*_inversion_accuracy`: the same scoring applied to the text the MILS inverter returns
  (`unembed.invert_many`, the embedded default generator, started from that same bank) for the
  first `invert_n` samples. All targets of a modality run in lock step, so each step makes one
  generator round and one MiniLM batch for all of them; `steps` and `requested` trade time
  for search (0 skips inversion). `*_inversion.grammatical_accuracy` also asks that the world's caption
  grammar write the text (world.in_grammar); `*_inversion.strict_accuracy` that it be the scene's
  canonical caption, word for word.

`open_world`: the bank holds the canonical captions of the trainable combinations only (and no MILS
distractor that parses to a held-out scene), so no caption in it is right: the loop has to compose
the answer. Its report adds the fluency (SmolLM2 log-likelihood per token) of the returned texts, of
the bank's top-1 and of the true canonical captions, and the LLM calls per target.

Speed is reported as ratios against MiniLM text encoding measured in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from .. import checks
from ..generators import default_fluency
from ..inverter import invert_many
from ..minibind import CaptionCache, family_candidates, mils_distractors, retrieval_top1, world, world_bank
from ..minibind.ground_truth import grammatical_accuracy, parsed_accuracy, strict_accuracy
from ..spaces import load_space

MODALITIES = ("image", "audio")


def inversion_accuracy(
    space,
    modality: str,
    vectors: np.ndarray,
    scenes: Sequence,
    bank,
    *,
    steps: int,
    requested: int,
    generator: str | None,
    seed: int,
    fluency_margin: float = 0.0,
    judge_fluency: bool = False,
    progress: bool = True,
) -> dict:
    """`parsed_accuracy` of the MILS inverter's best text for each vector, with what the search cost."""
    start = time.perf_counter()
    results = invert_many(
        vectors,
        space=space,
        bank=bank,
        generator=generator,
        modality=modality,
        steps=steps,
        requested=requested,
        seed=seed,
        fluency_margin=fluency_margin,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    texts = [result.text for result in results]
    bootstrap = [result.history[0].best_text for result in results]
    config = results[0].config
    assert config is not None  # the loop records its settings
    report = {
        "accuracy": parsed_accuracy(texts, scenes, modality),
        "grammatical_accuracy": grammatical_accuracy(texts, scenes, modality),
        "strict_accuracy": strict_accuracy(texts, scenes, modality),
        "bootstrap_accuracy": parsed_accuracy(bootstrap, scenes, modality),
        "n": len(texts),
        "generator": config.generator,
        "steps": steps,
        "requested": requested,
        "fluency_margin": config.fluency_margin,
        "min_gain": config.min_gain,
        "seconds": round(seconds, 1),
        "seconds_per_target": round(seconds / len(texts), 2),
        "llm_calls_per_target": float(np.mean([result.llm_calls for result in results])),
        "changed_by_search": float(np.mean([a != b for a, b in zip(texts, bootstrap, strict=True)])),
        "examples": [(world.caption(scene), text) for scene, text in zip(scenes[:10], texts, strict=False)],
    }
    if judge_fluency:
        judge = default_fluency()
        report["fluency"] = float(np.mean(judge.score(texts)))
        report["bootstrap_fluency"] = float(np.mean(judge.score(bootstrap)))
        # The yardstick for both: a right answer reads as the scene's own caption does.
        report["truth_fluency"] = float(np.mean(judge.score([world.caption(scene) for scene in scenes])))
    return report


def bank_baseline(bank, modality: str, vectors: np.ndarray, scenes: Sequence, distractors: list[str]) -> dict:
    top1 = [row[0] for row in bank.search(vectors, k=1).texts]
    return {
        "accuracy": parsed_accuracy(top1, scenes, modality),
        "bank_size": len(bank),
        "distractors": len(distractors),
        "top1_is_distractor": float(np.mean([text in set(distractors) for text in top1])) if distractors else 0.0,
    }


def run_minibind(
    *,
    n=500,
    seed=12345,
    space="minibind",
    distractors=2000,
    invert_n=100,
    steps=1,
    requested=5,
    generator=None,
    fluency_margin=0.0,
    open_world=False,
    cache=None,
    progress=True,
) -> dict:
    """The report: `n` held-out samples per modality drawn with `seed` (training used 0..1001); `distractors`
    MILS caption lines in each bank (0: world captions only); the first `invert_n` samples inverted (0:
    skip) with `steps` steps of `requested` texts (one step of 5 keeps 100 inversions per modality to
    minutes on 2 CPU cores); generator: default the embedded default; open_world: the bank holds no
    caption of a held-out scene; cache: the caption-embedding cache folder (default the user cache's)."""
    checks.count(n, "n")
    space = load_space(space)
    cache = CaptionCache(space, cache)
    rng = np.random.default_rng(seed)
    report: dict = {
        "space": space.spec,
        "n": n,
        "seed": seed,
        "open_world": open_world,
        "training": getattr(space, "info", {}).get("training_time"),
    }

    probe = [world.paraphrase(scene, rng) for scene in world.sample_scenes("image", 256, rng, held_out=False)]
    start = time.perf_counter()
    space.embed_text(probe)
    text_per_second = len(probe) / (time.perf_counter() - start)
    report["speed"] = {"text_per_second": round(text_per_second, 1)}

    for modality in MODALITIES:
        scenes = world.sample_scenes(modality, n, rng, held_out=True)
        items = [world.render(scene, rng) for scene in scenes]
        start = time.perf_counter()
        vectors = space.embed(modality, items)
        per_second = len(items) / (time.perf_counter() - start)
        report["speed"][f"{modality}_per_second"] = round(per_second, 1)
        report["speed"][f"{modality}_vs_text_ratio"] = round(per_second / text_per_second, 2)

        retrieval = retrieval_top1(vectors, scenes, family_candidates(modality, cache.embed))
        report[f"{modality}_retrieval_top1"] = retrieval["top1"]
        report[f"{modality}_retrieval_per_family"] = retrieval["per_family"]
        report[f"{modality}_retrieval_errors"] = retrieval["errors"][:20]
        lines = mils_distractors(modality, distractors, seed)
        bank = world_bank(space, modality, cache, lines, open_world=open_world)
        baseline = bank_baseline(bank, modality, vectors, scenes, lines)
        report[f"{modality}_bank_top1_parsed_accuracy"] = baseline.pop("accuracy")
        report[f"{modality}_bank_baseline"] = baseline
        inverted = None
        if invert_n > 0:
            count = min(invert_n, len(scenes))
            inverted = inversion_accuracy(
                space,
                modality,
                vectors[:count],
                scenes[:count],
                bank,
                steps=steps,
                requested=requested,
                generator=generator,
                seed=seed,
                fluency_margin=fluency_margin,
                judge_fluency=open_world,
                progress=progress,
            )
            report[f"{modality}_inversion"] = inverted
        report[f"{modality}_inversion_accuracy"] = inverted["accuracy"] if inverted else None
    return report
