"""`unembed bench explain`: are directions, probes and SAE features of MiniBind (or MiniLM) named right?

Ground truth comes from MiniBind's world. Fresh renders (a seed training never used) of one-object
image scenes and one-event sounds are embedded and split in two halves: probes and the SAE learn on
the first, directions and the SAE's feature matching are measured on the second. With `--space
minilm` (a text space), each scene is a random paraphrase of its caption (`world.paraphrase`: other
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
answer; `--bank mils` uses MILS's open-world captions instead.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from .. import atomic
from ..errors import InputError
from ..explain import bank_baseline, explain
from ..index import resolve_bank
from ..minibind import world
from ..objectives import Direction, Probe, SparseAutoencoder
from ..registry import require
from ..spaces import load_space

# attribute -> how a one-object image scene or a one-event sound holds it, and its values
ATTRIBUTES = {
    "image": {
        "shape": (lambda s: s.objects[0].shape, world.SHAPES),
        "colour": (lambda s: s.objects[0].colour, tuple(world.COLOURS)),
        "size": (lambda s: s.objects[0].size, world.SIZES),
        "position": (lambda s: s.objects[0].position, world.POSITIONS),
        "element": (lambda s: s.element, world.ELEMENTS),
    },
    "audio": {
        "kind": (lambda s: s.events[0].kind, world.SOUNDS),
        "loudness": (lambda s: s.events[0].loudness, world.LOUDNESS),
        "pitch": (lambda s: s.events[0].pitch, world.PITCHES),
        "tempo": (lambda s: s.events[0].tempo, world.TEMPOS),
    },
}
# The element is optional in a scene: a scene without one is "another value" of it. Pitch and tempo
# do not apply to every sound: only sounds that have one are compared.
OPTIONAL = {"element"}
MATCH_F1 = 0.7
MILS_BANKS = {"image": "mils-image", "audio": "mils-audio"}
WORLD_BANKS = {"image": "minibind-image", "audio": "minibind-audio"}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("explain", help="are MiniBind (or MiniLM) directions, probes and SAE features named right?")
    parser.add_argument("--space", choices=["minibind", "minilm"], default="minibind",
                        help="minibind: rendered pictures and sounds (default); minilm: a paraphrase of each scene's caption, as text")
    parser.add_argument("--n", type=int, default=400, help="scenes per modality (rendered, or paraphrased for minilm), half to train, half to test (default 400)")
    parser.add_argument("--seed", type=int, default=777, help="render and training seed (MiniBind's training used 0..1001 for renders)")
    parser.add_argument("--bank", choices=["world", "mils"], default="world",
                        help="world: MiniBind's canonical captions of the modality (default); mils: MILS's open-world captions")
    parser.add_argument("--generator", default="edit", help="the loop's generator (default edit; an LLM is too slow here)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--requested", type=int, default=20)
    parser.add_argument("--keep", type=int, default=10)
    parser.add_argument("--sae-features", type=int, default=64, help="width of the SAE (default 64)")
    parser.add_argument("--sae", default=None, help="where to save the trained SAE (safetensors; default beside --json)")
    parser.add_argument("--json", required=True, help="where to write the report")
    parser.set_defaults(run=run)


def render_split(modality: str, n: int, rng: np.random.Generator, space) -> tuple[list, np.ndarray]:
    """`n` fresh one-object images or one-event sounds (any combination, held out ones included) and their
    embeddings; in a space that does not embed the modality (MiniLM), a paraphrase of each, as text."""
    family = "one-object" if modality == "image" else "one-event"
    pool = world.all_image_scenes(family) if modality == "image" else world.all_audio_scenes(family)
    scenes = [pool[i] for i in rng.integers(len(pool), size=n)]
    if modality not in space.modalities:
        return scenes, space.embed("text", [world.paraphrase(scene, rng) for scene in scenes]).astype(np.float64)
    if modality == "image":
        items = [world.render_image(scene, rng) for scene in scenes]
    else:
        items = [(world.render_audio(scene, rng), world.SAMPLE_RATE) for scene in scenes]
    return scenes, space.embed(modality, items).astype(np.float64)


def labels(modality: str, scenes) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """(attribute, value) pairs; has (n, values): the scene has the value; applies (n, values): it is compared."""
    pairs, has, applies = [], [], []
    for attribute, (read, values) in ATTRIBUTES[modality].items():
        held = np.array([read(scene) for scene in scenes], dtype=object)
        for value in values:
            pairs.append((attribute, value))
            has.append(held == value)
            applies.append(np.ones(len(scenes), bool) if attribute in OPTIONAL else held != None)  # noqa: E711 (elementwise)
    return pairs, np.array(has).T, np.array(applies).T


def directions(vectors: np.ndarray, has: np.ndarray, applies: np.ndarray) -> np.ndarray:
    """(values, dim): mean of the scenes with each value minus the mean of those compared that have another."""
    rows = []
    for j in range(has.shape[1]):
        rest = applies[:, j] & ~has[:, j]
        rows.append(vectors[has[:, j]].mean(axis=0) - vectors[rest].mean(axis=0))
    return np.array(rows)


def train_probes(vectors: np.ndarray, has: np.ndarray, applies: np.ndarray, *, seed: int, steps: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """(weight (values, dim), bias (values,)): one logistic regression per value, on the scenes compared for it."""
    torch.manual_seed(seed)
    x = torch.tensor(vectors, dtype=torch.float32)
    y, mask = torch.tensor(has, dtype=torch.float32), torch.tensor(applies, dtype=torch.float32)
    linear = torch.nn.Linear(x.shape[1], y.shape[1])
    optimiser = torch.optim.Adam(linear.parameters(), lr=0.05)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(linear(x), y, reduction="none") * mask).sum() / mask.sum()
        loss.backward()
        optimiser.step()
    return linear.weight.detach().double().numpy(), linear.bias.detach().double().numpy()


def train_sae(vectors: np.ndarray, *, features: int = 64, l1: float = 0.1, steps: int = 600, seed: int = 0) -> dict[str, np.ndarray]:
    """A ReLU sparse autoencoder on unit rows `vectors` (n, dim): W_enc (features, dim), b_enc, W_dec, b_dec (float32).

    Loss: squared reconstruction error plus `l1` times the activations weighted by their decoder
    norms (so shrinking the decoder cannot buy sparsity). Full-batch Adam, seeded: seconds on a CPU.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.tensor(vectors, dtype=torch.float32)
    dim = x.shape[1]
    w_dec = torch.nn.Parameter(torch.randn(dim, features, generator=generator) / dim**0.5)
    w_enc = torch.nn.Parameter(w_dec.detach().T.clone())
    b_enc = torch.nn.Parameter(torch.zeros(features))
    b_dec = torch.nn.Parameter(x.mean(dim=0).clone())
    optimiser = torch.optim.Adam([w_enc, b_enc, w_dec, b_dec], lr=3e-3)
    for _ in range(steps):
        optimiser.zero_grad()
        activations = torch.relu((x - b_dec) @ w_enc.T + b_enc)
        reconstruction = activations @ w_dec.T + b_dec
        sparsity = (activations * w_dec.norm(dim=0)).sum(dim=1).mean()
        loss = ((reconstruction - x) ** 2).sum(dim=1).mean() + l1 * sparsity
        loss.backward()
        optimiser.step()
    return {name: tensor.detach().contiguous().numpy().astype(np.float32)
            for name, tensor in (("W_enc", w_enc), ("b_enc", b_enc), ("W_dec", w_dec), ("b_dec", b_dec))}


def match_features(activations: np.ndarray, has: np.ndarray, minimum: float = MATCH_F1) -> list[tuple[int, int, float]]:
    """(feature, value, F1) for each feature whose firing best matches a value with F1 >= `minimum`."""
    fires = activations > 0
    hits = fires.T.astype(float) @ has.astype(float)  # (features, values)
    precision = hits / np.maximum(fires.sum(axis=0), 1)[:, None]
    recall = hits / np.maximum(has.sum(axis=0), 1)[None, :]
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(hits), where=precision + recall > 0)
    best = f1.argmax(axis=1)
    return [(feature, int(value), float(f1[feature, value])) for feature, value in enumerate(best) if f1[feature, value] >= minimum]


def named_right(text: str, modality: str, attribute: str, value: str) -> bool:
    """The parser reads `value` for `attribute` in `text`, and no other value of it."""
    parsed = world.parse_text(text, modality)
    if attribute == "element":
        found = {parsed.element} - {None}
    elif modality == "image":
        found = {getattr(obj, attribute) for obj in parsed.objects} - {None}
    else:
        found = {getattr(event, attribute) for event in parsed.events} - {None}
    return found == {value}


def run(args) -> int:
    if args.n < 20:
        raise InputError(f"--n must be at least 20 (half trains, half tests); got {args.n}.")
    out = Path(args.json)
    space = load_space(args.space)
    rng = np.random.default_rng(args.seed)
    data = {}
    for modality in ATTRIBUTES:
        scenes, vectors = render_split(modality, args.n, rng, space)
        pairs, has, applies = labels(modality, scenes)
        half = args.n // 2
        data[modality] = dict(pairs=pairs, train=(vectors[:half], has[:half], applies[:half]), test=(vectors[half:], has[half:], applies[half:]))

    started = time.perf_counter()
    sae_tensors = train_sae(np.vstack([data[m]["train"][0] for m in ATTRIBUTES]), features=args.sae_features, seed=args.seed)
    sae_seconds = time.perf_counter() - started
    sae_path = Path(args.sae) if args.sae else out.with_name(out.stem + "-sae.safetensors")
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
        "space": space.spec, "n": args.n, "seed": args.seed, "bank": args.bank, "generator": args.generator,
        "steps": args.steps, "requested": args.requested, "keep": args.keep,
        "sae": {"path": str(sae_path), "features": args.sae_features, "train_seconds": round(sae_seconds, 2),
                "matched": len(matches), "match_f1_min": MATCH_F1},
    }
    cases = []  # (kind, modality, attribute, value, objective)
    for modality in ATTRIBUTES:
        pairs = data[modality]["pairs"]
        weight, bias = train_probes(*data[modality]["train"], seed=args.seed)
        for (attribute, value), direction, w, b in zip(pairs, directions(*data[modality]["test"]), weight, bias):
            cases.append(("direction", modality, attribute, value, direction))
            cases.append(("probe", modality, attribute, value, Probe(w, b)))
    cases += [("sae_feature", m, attribute, value, sae.feature(feature)) for feature, value_index, _ in matches
              for m, attribute, value in [all_pairs[value_index]]]

    rows = []
    for modality in ATTRIBUTES:
        bank = resolve_bank(MILS_BANKS[modality] if args.bank == "mils" else WORLD_BANKS[modality], space, modality)
        baseline = bank_baseline(bank, space, seed=args.seed)
        mine = [case for case in cases if case[1] == modality]
        objectives = [Direction(case[4], baseline=baseline) if case[0] == "direction" else case[4] for case in mine]
        explanations = explain(objectives, names=[f"{kind} {attribute}={value}" for kind, _, attribute, value, _ in mine],
                               space=space, bank=bank, modality=modality, generator=args.generator, steps=args.steps,
                               requested=args.requested, keep=args.keep, seed=args.seed, fluency=False, progress=True)
        for (kind, _, attribute, value, _), explanation in zip(mine, explanations):
            rows.append({
                "kind": kind, "modality": modality, "attribute": attribute, "value": value, "objective": explanation.objective,
                "bank_text": explanation.bank_text, "bank_right": named_right(explanation.bank_text, modality, attribute, value),
                "text": explanation.text, "right": named_right(explanation.text, modality, attribute, value),
                "bank_score": explanation.bank_score, "score": explanation.score, "lift": explanation.lift,
                "seconds": explanation.seconds,
            })
    for kind in ("direction", "probe", "sae_feature"):
        mine = [row for row in rows if row["kind"] == kind]
        report[kind] = {
            "n": len(mine),
            "bank_top1_accuracy": float(np.mean([row["bank_right"] for row in mine])) if mine else None,
            "loop_accuracy": float(np.mean([row["right"] for row in mine])) if mine else None,
            "mean_lift": float(np.mean([row["lift"] for row in mine])) if mine else None,
            "seconds_per_explanation": float(np.mean([row["seconds"] for row in mine])) if mine else None,
        }
        print(f"{kind:12s} n={len(mine):3d}  bank top-1 {report[kind]['bank_top1_accuracy']}  loop {report[kind]['loop_accuracy']}  "
              f"{report[kind]['seconds_per_explanation']} s/explanation")
    report["explanations"] = rows
    atomic.write_json(out, report)
    print(f"wrote {out}")
    return 0
