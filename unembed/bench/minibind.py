"""`unembed bench minibind`: how well MiniBind's encoders land on the right words, on held-out scenes.

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
  first `--invert-n` samples. All targets of a modality run in lock step, so each step makes one
  generator round and one MiniLM batch for all of them; `--steps` and `--requested` trade time
  for search (0 skips inversion). `*_inversion.grammatical_accuracy` also asks that the world's caption
  grammar write the text (world.in_grammar); `*_inversion.strict_accuracy` that it be the scene's
  canonical caption, word for word.

`--open-world`: the bank holds the canonical captions of the trainable combinations only (and no MILS
distractor that parses to a held-out scene), so no caption in it is right: the loop has to compose
the answer. Its report adds the fluency (SmolLM2 log-likelihood per token) of the returned texts, of
the bank's top-1 and of the true canonical captions, and the LLM calls per target.

Speed is reported as ratios against MiniLM text encoding measured in the same run.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from .. import atomic
from ..generators import DEFAULT_GENERATOR, default_fluency
from ..index import Bank, collect_captions
from ..inverter import invert_many
from ..minibind import CaptionCache, family_candidates, retrieval_top1, world
from ..spaces import load_space

MODALITIES = ("image", "audio")
MILS_DISTRACTORS = {"image": "mils-image", "audio": "mils-audio"}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("minibind", help="MiniBind held-out retrieval and bank-baseline accuracy")
    parser.add_argument("--n", type=int, default=500, help="held-out samples per modality (default 500)")
    parser.add_argument("--seed", type=int, default=12345, help="sampling seed (training used 0..1001)")
    parser.add_argument("--space", default="minibind", help="space spec, e.g. minibind:/folder/with/weights")
    parser.add_argument("--distractors", type=int, default=2000,
                        help="MILS caption lines added to each baseline bank (0: world captions only)")
    parser.add_argument("--invert-n", type=int, default=100, help="samples per modality to invert with MILS (default 100; 0: skip)")
    # One step of 5 proposals keeps 100 inversions per modality to minutes on 2 CPU cores (README).
    parser.add_argument("--steps", type=int, default=1, help="MILS steps per inversion (default 1)")
    parser.add_argument("--requested", type=int, default=5, help="texts the generator proposes per target and step (default 5)")
    parser.add_argument("--generator", default=None, help=f"generator spec (default: the embedded default, {DEFAULT_GENERATOR})")
    parser.add_argument("--fluency-margin", type=float, default=0.0,
                        help="the loop's fluency gate keeps texts down to the bank's best fluency minus this (default 0)")
    parser.add_argument("--open-world", action="store_true",
                        help="the bank holds no caption of a held-out scene: inversion must compose the answer")
    parser.add_argument("--cache", default=None, help="caption-embedding cache folder (default ~/.cache/unembed/minibind)")
    parser.add_argument("--json", required=True, help="where to write the report")
    parser.set_defaults(run=run)


def parsed_accuracy(texts: Sequence[str], scenes: Sequence, modality: str) -> float:
    """Share of `texts` that the world's parser reads as exactly their ground-truth scene."""
    return float(np.mean([world.matches(world.parse_text(text, modality), scene) for text, scene in zip(texts, scenes)]))


def strict_accuracy(texts: Sequence[str], scenes: Sequence, modality: str) -> float:
    """Share of `texts` that parse to their scene AND are that scene's canonical caption, word for word."""
    return float(np.mean([
        world.matches(world.parse_text(text, modality), scene) and " ".join(text.split()) == world.caption(scene)
        for text, scene in zip(texts, scenes)
    ]))


def grammatical_accuracy(texts: Sequence[str], scenes: Sequence, modality: str) -> float:
    """Share of `texts` that parse to their scene AND that the world's caption grammar writes (world.in_grammar)."""
    return float(np.mean([
        world.matches(world.parse_text(text, modality), scene) and world.in_grammar(text, modality)
        for text, scene in zip(texts, scenes)
    ]))


def inversion_accuracy(space, modality: str, vectors: np.ndarray, scenes: Sequence, bank, *, steps: int, requested: int,
                       generator: str | None, seed: int, fluency_margin: float = 0.0, judge_fluency: bool = False) -> dict:
    """`parsed_accuracy` of the MILS inverter's best text for each vector, with what the search cost."""
    start = time.perf_counter()
    results = invert_many(vectors, space=space, bank=bank, generator=generator or DEFAULT_GENERATOR, modality=modality,
                          steps=steps, requested=requested, seed=seed, fluency_margin=fluency_margin, progress=True)
    seconds = time.perf_counter() - start
    texts = [result.text for result in results]
    bootstrap = [result.history[0].best_text for result in results]
    report = {
        "accuracy": parsed_accuracy(texts, scenes, modality),
        "grammatical_accuracy": grammatical_accuracy(texts, scenes, modality),
        "strict_accuracy": strict_accuracy(texts, scenes, modality),
        "bootstrap_accuracy": parsed_accuracy(bootstrap, scenes, modality),
        "n": len(texts),
        "generator": results[0].config.generator,
        "steps": steps,
        "requested": requested,
        "fluency_margin": results[0].config.fluency_margin,
        "min_gain": results[0].config.min_gain,
        "seconds": round(seconds, 1),
        "seconds_per_target": round(seconds / len(texts), 2),
        "llm_calls_per_target": float(np.mean([result.llm_calls for result in results])),
        "changed_by_search": float(np.mean([a != b for a, b in zip(texts, bootstrap)])),
        "examples": [(world.caption(scene), text) for scene, text in zip(scenes[:10], texts)],
    }
    if judge_fluency:
        judge = default_fluency()
        report["fluency"] = float(np.mean(judge.score(texts)))
        report["bootstrap_fluency"] = float(np.mean(judge.score(bootstrap)))
        # The yardstick for both: a right answer reads as the scene's own caption does.
        report["truth_fluency"] = float(np.mean(judge.score([world.caption(scene) for scene in scenes])))
    return report


def mils_distractors(modality: str, count: int, seed: int) -> list[str]:
    if count <= 0:
        return []
    lines = collect_captions([MILS_DISTRACTORS[modality]])
    picks = np.random.default_rng(seed).choice(len(lines), size=min(count, len(lines)), replace=False)
    return [lines[i] for i in sorted(picks)]


def world_bank(space, modality: str, cache: CaptionCache, distractors: list[str], *, open_world: bool = False):
    """A flat bank of every canonical caption of the modality's world plus `distractors`; open world:
    only the captions of trainable scenes, and no text that parses to a held-out scene."""
    captions = world.canonical_captions(modality, held_out=not open_world)
    if open_world:
        distractors = [text for text in distractors if not world.is_held_out(world.parse_text(text, modality))]
    texts = list(dict.fromkeys(captions + distractors))
    return Bank.from_vectors(texts, cache.embed(texts), space, index="Flat")


def bank_baseline(bank, modality: str, vectors: np.ndarray, scenes: Sequence, distractors: list[str]) -> dict:
    top1 = [row[0] for row in bank.search(vectors, k=1).texts]
    return {
        "accuracy": parsed_accuracy(top1, scenes, modality),
        "bank_size": len(bank),
        "distractors": len(distractors),
        "top1_is_distractor": float(np.mean([text in set(distractors) for text in top1])) if distractors else 0.0,
    }


def run(args) -> int:
    space = load_space(args.space)
    cache = CaptionCache(space, args.cache)
    rng = np.random.default_rng(args.seed)
    report: dict = {"space": space.spec, "n": args.n, "seed": args.seed, "open_world": args.open_world,
                    "training": getattr(space, "info", {}).get("training_time")}

    probe = [world.paraphrase(scene, rng) for scene in world.sample_scenes("image", 256, rng, held_out=False)]
    start = time.perf_counter()
    space.embed_text(probe)
    text_per_second = len(probe) / (time.perf_counter() - start)
    report["speed"] = {"text_per_second": round(text_per_second, 1)}

    for modality in MODALITIES:
        scenes = world.sample_scenes(modality, args.n, rng, held_out=True)
        if modality == "image":
            items = [world.render_image(scene, rng) for scene in scenes]
        else:
            items = [(world.render_audio(scene, rng), world.SAMPLE_RATE) for scene in scenes]
        start = time.perf_counter()
        vectors = space.embed(modality, items)
        per_second = len(items) / (time.perf_counter() - start)
        report["speed"][f"{modality}_per_second"] = round(per_second, 1)
        report["speed"][f"{modality}_vs_text_ratio"] = round(per_second / text_per_second, 2)

        retrieval = retrieval_top1(vectors, scenes, family_candidates(modality, cache.embed))
        report[f"{modality}_retrieval_top1"] = retrieval["top1"]
        report[f"{modality}_retrieval_per_family"] = retrieval["per_family"]
        report[f"{modality}_retrieval_errors"] = retrieval["errors"][:20]
        distractors = mils_distractors(modality, args.distractors, args.seed)
        bank = world_bank(space, modality, cache, distractors, open_world=args.open_world)
        baseline = bank_baseline(bank, modality, vectors, scenes, distractors)
        report[f"{modality}_bank_top1_parsed_accuracy"] = baseline.pop("accuracy")
        report[f"{modality}_bank_baseline"] = baseline
        inverted = None
        if args.invert_n > 0:
            count = min(args.invert_n, len(scenes))
            inverted = inversion_accuracy(space, modality, vectors[:count], scenes[:count], bank, steps=args.steps,
                                          requested=args.requested, generator=args.generator, seed=args.seed,
                                          fluency_margin=args.fluency_margin, judge_fluency=args.open_world)
            report[f"{modality}_inversion"] = inverted
        report[f"{modality}_inversion_accuracy"] = inverted["accuracy"] if inverted else None
        print(
            f"{modality}: retrieval top-1 {retrieval['top1']:.3f} {retrieval['per_family']}, "
            f"bank top-1 parsed {report[f'{modality}_bank_top1_parsed_accuracy']:.3f}, "
            f"inversion {report[f'{modality}_inversion_accuracy']} ({per_second:.0f} {modality}/s, {per_second / text_per_second:.2f}x text)"
        )
    atomic.write_json(args.json, report)
    print(f"wrote {args.json}")
    return 0
