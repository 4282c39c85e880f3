"""`unembed bench minibind`: how well MiniBind's encoders land on the right words, on held-out scenes.

Samples are fresh scenes whose attribute combinations were never seen in training
(world.is_held_out), rendered and embedded through the public `load_space("minibind")` API.

- `image_retrieval_top1` / `audio_retrieval_top1`: is the true canonical caption the nearest
  among ALL canonical captions of the scene's family (1728 one-object / 2256 two-object scenes,
  30 one-event / 364 two-event sounds)? Every other combination of attributes is a candidate.
- `*_bank_top1_parsed_accuracy` (baseline for inversion): search a FAISS flat bank holding every
  canonical caption of the modality's world plus MILS caption lines as distractors, parse the
  top-1 text with the world's parser, and count it right when every attribute is right.
- `*_inversion_accuracy`: the same scoring applied to the text the MILS inverter returns. It is
  reported as null until `unembed.invert` exists in this tree (see `inversion_accuracy`).

Speed is reported as ratios against MiniLM text encoding measured in the same run.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Sequence

import numpy as np

from .. import atomic
from ..spaces import load_space
from ..spaces.minibind import world
from ..spaces.minibind.captions import CaptionCache, family_candidates, retrieval_top1

KINDS = ("image", "audio")
MILS_DISTRACTORS = {"image": "mils-image", "audio": "mils-audio"}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("minibind", help="MiniBind held-out retrieval and bank-baseline accuracy")
    parser.add_argument("--n", type=int, default=500, help="held-out samples per modality (default 500)")
    parser.add_argument("--seed", type=int, default=12345, help="sampling seed (training used 0..1001)")
    parser.add_argument("--space", default="minibind", help="space spec, e.g. minibind:/folder/with/weights")
    parser.add_argument("--distractors", type=int, default=2000,
                        help="MILS caption lines added to each baseline bank (0: world captions only)")
    parser.add_argument("--cache", default=None, help="caption-embedding cache folder (default ~/.cache/unembed/minibind)")
    parser.add_argument("--json", required=True, help="where to write the report")
    parser.set_defaults(run=run)


def parsed_accuracy(texts: Sequence[str], scenes: Sequence, kind: str) -> float:
    """Share of `texts` that the world's parser reads as exactly their ground-truth scene."""
    return float(np.mean([world.matches(world.parse_text(text, kind), scene) for text, scene in zip(texts, scenes)]))


def inversion_accuracy(space, kind: str, vectors: np.ndarray, scenes: Sequence) -> float | None:
    """`parsed_accuracy` of the MILS inverter's best text for each vector; None until wired.

    Wiring it once `unembed.invert` lands: invert each row of `vectors` in `space` and return
    `parsed_accuracy(best_texts, scenes, kind)`. Nothing is estimated in its place meanwhile.
    """
    return None


def inversion_note() -> str:
    if importlib.util.find_spec("unembed.invert") is None:
        return "unembed.invert is not in this tree yet; *_inversion_accuracy is null, not estimated."
    return "unembed.invert exists but is not wired into unembed/bench/minibind.py:inversion_accuracy yet; null, not estimated."


def mils_distractors(kind: str, count: int, seed: int) -> list[str]:
    from ..index import collect_captions

    if count <= 0:
        return []
    lines = collect_captions([MILS_DISTRACTORS[kind]])
    picks = np.random.default_rng(seed).choice(len(lines), size=min(count, len(lines)), replace=False)
    return [lines[i] for i in sorted(picks)]


def bank_baseline(space, kind: str, vectors: np.ndarray, scenes: Sequence, cache: CaptionCache, distractors: list[str]) -> dict:
    from ..index import Bank

    texts = list(dict.fromkeys(world.canonical_captions(kind) + distractors))
    bank = Bank.from_vectors(texts, cache.embed(texts), space, index="Flat")
    top1 = [row[0] for row in bank.search(vectors, k=1).texts]
    return {
        "accuracy": parsed_accuracy(top1, scenes, kind),
        "bank_size": len(bank),
        "distractors": len(distractors),
        "top1_is_distractor": float(np.mean([text in set(distractors) for text in top1])) if distractors else 0.0,
    }


def run(args) -> int:
    space = load_space(args.space)
    cache = CaptionCache(space, args.cache)
    rng = np.random.default_rng(args.seed)
    report: dict = {"space": space.spec, "n": args.n, "seed": args.seed, "training": getattr(space, "info", {}).get("training_time")}

    probe = [world.paraphrase(scene, rng) for scene in world.sample_scenes("image", 256, rng, held_out=False)]
    start = time.perf_counter()
    space.embed_text(probe)
    text_per_second = len(probe) / (time.perf_counter() - start)
    report["speed"] = {"text_per_second": round(text_per_second, 1)}

    for kind in KINDS:
        scenes = world.sample_scenes(kind, args.n, rng, held_out=True)
        if kind == "image":
            items = [world.render_image(scene, rng) for scene in scenes]
        else:
            items = [(world.render_audio(scene, rng), world.SAMPLE_RATE) for scene in scenes]
        start = time.perf_counter()
        vectors = space.embed(kind, items)
        per_second = len(items) / (time.perf_counter() - start)
        report["speed"][f"{kind}_per_second"] = round(per_second, 1)
        report["speed"][f"{kind}_vs_text_ratio"] = round(per_second / text_per_second, 2)

        retrieval = retrieval_top1(vectors, scenes, family_candidates(kind, cache.embed))
        report[f"{kind}_retrieval_top1"] = retrieval["top1"]
        report[f"{kind}_retrieval_per_family"] = retrieval["per_family"]
        report[f"{kind}_retrieval_errors"] = retrieval["errors"][:20]
        baseline = bank_baseline(space, kind, vectors, scenes, cache, mils_distractors(kind, args.distractors, args.seed))
        report[f"{kind}_bank_top1_parsed_accuracy"] = baseline.pop("accuracy")
        report[f"{kind}_bank_baseline"] = baseline
        report[f"{kind}_inversion_accuracy"] = inversion_accuracy(space, kind, vectors, scenes)
        print(
            f"{kind}: retrieval top-1 {retrieval['top1']:.3f} {retrieval['per_family']}, "
            f"bank top-1 parsed {report[f'{kind}_bank_top1_parsed_accuracy']:.3f}, "
            f"inversion {report[f'{kind}_inversion_accuracy']} ({per_second:.0f} {kind}/s, {per_second / text_per_second:.2f}x text)"
        )
    if report["image_inversion_accuracy"] is None:
        report["inversion_note"] = inversion_note()
    atomic.write_json(args.json, report)
    print(f"wrote {args.json}")
    return 0
