"""Train MiniBind's image and audio encoders into the frozen MiniLM text space (ImageBind's recipe, small).

    nice -n 10 python -m unembed.minibind.train            # writes the package's weights/
    python -m unembed.minibind.train --smoke --out /tmp/mb  # seconds; what CI runs

Each encoder is trained with an InfoNCE loss against a frozen bank of MiniLM caption embeddings:
the canonical caption and grammar paraphrases of every trainable scene. The bank is the negative
set (it is frozen, so it can be far larger than a batch). A sample's positive is its scene's
canonical caption; the paraphrases of its own scene are left out of its softmax (neither positive
nor negative) and those of every other scene are negatives. The target is not the centre of all
of a scene's captions because in MiniLM that centre is often nearer a WRONG canonical caption (the
paraphrase words "soft", "booming", "rapidly" ... pull it around): the canonical caption nearest
the centre of a scene's canonical caption and 5 paraphrases is the right one for only 63% of
one-event sounds, and with 1 paraphrase for 72% of two-object pictures. The temperature starts at
0.01, not CLIP's 0.07, because captions one attribute apart have cosine ~0.99; an auxiliary cosine
term pulls each output onto its canonical caption. Held-out combinations (world.is_held_out)
appear neither as media nor as caption text. MiniLM embeddings are cached on disk (captions.py),
so a rerun only trains. Deterministic for a given seed and thread count.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..spaces import load_space
from . import world
from .captions import CaptionCache, family_candidates, retrieval_top1
from .models import CONFIG_FILE, WEIGHTS_DIR, WEIGHTS_FILE, AudioEncoder, EncoderConfig, ImageEncoder, save_weights


@dataclass
class TrainSettings:
    seed: int = 0
    image_samples: int = 20000
    audio_samples: int = 16000
    image_epochs: int = 10
    audio_epochs: int = 16
    image_paraphrases: int = 1  # per trainable scene, besides its canonical caption
    audio_paraphrases: int = 5
    batch_size: int = 128
    learning_rate: float = 3e-3
    eval_samples: int = 400
    # Neighbouring captions (one attribute apart) have MiniLM cosine ~0.99, so the softmax needs a
    # far lower temperature than CLIP's 0.07 to tell them apart; it is learned from this start.
    temperature: float = 0.01
    # Weight of the auxiliary cosine pull onto a scene's canonical caption.
    alignment: float = 1.0
    colour_channels: int = 0  # image: add the per-pixel colour stream (models.ImageEncoder)
    smoke: bool = False


SMOKE = TrainSettings(
    image_samples=96,
    audio_samples=64,
    image_epochs=6,
    audio_epochs=6,
    image_paraphrases=1,
    audio_paraphrases=1,
    batch_size=16,
    eval_samples=0,
    smoke=True,
)


def render_media(modality: str, scenes, rng: np.random.Generator, encoder: AudioEncoder | None = None) -> torch.Tensor:
    """Images as (n, 3, 64, 64) float in [0, 1]; sounds as log-mel features from `encoder`'s front end."""
    if modality == "image":
        pixels = np.stack([world.render_image(scene, rng) for scene in scenes])
        return torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div_(255)
    assert encoder is not None, "sounds need the audio encoder's front end"
    chunks = []
    for start in range(0, len(scenes), 256):
        waves = torch.from_numpy(np.stack([world.render_audio(scene, rng) for scene in scenes[start : start + 256]]))
        with torch.no_grad():
            chunks.append(encoder.front_end(waves))
    return torch.cat(chunks)


def caption_bank(modality: str, rng: np.random.Generator, paraphrases: int, scenes=None) -> tuple[list[str], list[int], dict]:
    """Captions of every trainable scene (or of `scenes`): (texts, owner scene index per text, scene -> index).

    The bank does not depend on the number of samples, so its MiniLM embeddings are cached once
    per seed and reused by every later run.
    """
    if scenes is None:
        scenes = [scene for scene in world.all_scenes(modality) if not world.is_held_out(scene)]
    index: dict = {}
    texts: list[str] = []
    owners: list[int] = []
    for scene in scenes:
        if scene in index:
            continue
        index[scene] = len(index)
        variants = dict.fromkeys([world.caption(scene)] + [world.paraphrase(scene, rng) for _ in range(paraphrases)])
        texts.extend(variants)
        owners.extend([index[scene]] * len(variants))
    return texts, owners, index


def train_encoder(
    modality: str, settings: TrainSettings, config: EncoderConfig, cache: CaptionCache, log=print
) -> tuple[ImageEncoder | AudioEncoder, dict]:
    seed = settings.seed + (0 if modality == "image" else 1)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model: ImageEncoder | AudioEncoder = ImageEncoder(config) if modality == "image" else AudioEncoder(config)
    n = settings.image_samples if modality == "image" else settings.audio_samples
    epochs = settings.image_epochs if modality == "image" else settings.audio_epochs

    scenes = world.sample_scenes(modality, n, rng, held_out=False)
    paraphrases = settings.image_paraphrases if modality == "image" else settings.audio_paraphrases
    # A smoke run keeps its bank to the scenes it samples, so that it embeds few captions.
    texts, owners, scene_index = caption_bank(modality, np.random.default_rng(seed), paraphrases, scenes if settings.smoke else None)
    log(f"[{modality}] {n} samples; bank of {len(texts)} captions of {len(scene_index)} scenes, embedded with {cache.space.spec}")
    bank = torch.from_numpy(cache.embed(texts))
    owners_t = torch.tensor(owners)
    labels = torch.tensor([scene_index[scene] for scene in scenes])
    media = render_media(modality, scenes, rng, model if isinstance(model, AudioEncoder) else None)

    first_row = {text: row for row, text in reversed(list(enumerate(texts)))}
    canonical_rows = torch.tensor([first_row[world.caption(scene)] for scene in scene_index])  # by scene index
    is_paraphrase = torch.ones(len(texts), dtype=torch.bool)
    is_paraphrase[canonical_rows] = False
    log_scale = torch.nn.Parameter(torch.tensor(math.log(1 / settings.temperature)))
    optimiser = torch.optim.AdamW([*model.parameters(), log_scale], lr=settings.learning_rate, weight_decay=1e-4)
    steps = epochs * math.ceil(n / settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, settings.learning_rate, total_steps=steps, pct_start=0.15)
    generator = torch.Generator().manual_seed(seed)
    epoch_losses = []
    model.train()
    with tqdm(total=steps, desc=f"train {modality}", unit="step", leave=False) as bar:
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for start in range(0, n, settings.batch_size):
                batch = order[start : start + settings.batch_size]
                inputs = media[batch]
                if isinstance(model, ImageEncoder) and config.colour_channels:  # the conv stream sees the picture with RGB shuffled
                    permutations = torch.stack([torch.randperm(3, generator=generator) for _ in range(len(batch))])
                    trunk = model.trunk(inputs, torch.gather(inputs, 1, permutations[:, :, None, None].expand_as(inputs)))
                else:
                    trunk = model.trunk(inputs)
                vectors = F.normalize(model.head(trunk), dim=-1)
                logits = vectors @ bank.T * log_scale.exp().clamp(max=1000)
                # The own scene's paraphrases are neither positive nor negative (see the module docstring).
                logits = logits.masked_fill((owners_t[None, :] == labels[batch, None]) & is_paraphrase[None, :], float("-inf"))
                targets = canonical_rows[labels[batch]]
                loss = F.cross_entropy(logits, targets)
                if settings.alignment:
                    loss = loss + settings.alignment * (1 - (vectors * bank[targets]).sum(1)).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                total += loss.item() * len(batch)
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}")
            epoch_losses.append(total / n)
            log(f"[{modality}] epoch {len(epoch_losses)}/{epochs} loss {epoch_losses[-1]:.4f} temperature {1 / log_scale.exp().item():.4f}")
    model.eval()
    return model, {"epoch_losses": epoch_losses, "scenes": len(scene_index), "captions": len(texts), "samples": n}


def evaluate(
    model: ImageEncoder | AudioEncoder, modality: str, settings: TrainSettings, cache: CaptionCache, *, seed: int, held_out: bool = True
) -> dict:
    """Retrieval top-1 on fresh held-out (or seen) scenes against all canonical captions of their family."""
    rng = np.random.default_rng(seed)
    scenes = world.sample_scenes(modality, settings.eval_samples, rng, held_out=held_out)
    media = render_media(modality, scenes, rng, model if isinstance(model, AudioEncoder) else None)
    with torch.no_grad():
        vectors = (model if isinstance(model, ImageEncoder) else model.embed_features)(media).numpy()
    families = sorted({scene.family for scene in scenes})
    return retrieval_top1(vectors, scenes, family_candidates(modality, cache.embed, families))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unembed.minibind.train", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=WEIGHTS_DIR, help="folder for minibind.safetensors and config.json (default: the package's)"
    )
    parser.add_argument("--cache", type=Path, default=None, help="caption-embedding cache folder (default ~/.cache/unembed/minibind)")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds) that only checks the loss falls")
    defaults = TrainSettings()
    for name, value in vars(defaults).items():
        if name != "smoke":
            parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=None)
    args = parser.parse_args(argv)
    base = SMOKE if args.smoke else defaults
    settings = TrainSettings(
        **{name: value if getattr(args, name, None) is None else getattr(args, name) for name, value in vars(base).items()}
    )

    torch.use_deterministic_algorithms(True)
    started_wall, started_cpu = time.time(), time.process_time()
    config = EncoderConfig(colour_channels=settings.colour_channels)
    cache = CaptionCache(load_space("minilm"), args.cache)
    report: dict = {
        "text_space": cache.space.spec,
        "world": {
            "held_out_colour_shapes": sorted(map(list, world.HELD_OUT_COLOUR_SHAPES)),
            "held_out_sound_attributes": sorted(map(list, world.HELD_OUT_SOUND_ATTRIBUTES)),
            "held_out_sound_pairs": sorted(sorted(pair) for pair in world.HELD_OUT_SOUND_PAIRS),
        },
        "settings": vars(settings),
    }
    models: dict[str, ImageEncoder | AudioEncoder] = {}
    for modality in ("image", "audio"):
        models[modality], report[f"{modality}_training"] = train_encoder(modality, settings, config, cache)
        if not settings.eval_samples:
            continue
        result = evaluate(models[modality], modality, settings, cache, seed=settings.seed + 1000)
        report[f"{modality}_heldout_retrieval"] = {k: v for k, v in result.items() if k != "errors"}
        print(
            f"[{modality}] held-out retrieval top-1 {result['top1']:.3f} {result['per_family']} (n={result['n']}); "
            f"e.g. errors {result['errors'][:3]}"
        )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report["training_time"] = {
        "wall_seconds": round(time.time() - started_wall, 1),
        "cpu_seconds": round(time.process_time() - started_cpu, 1),
        "cpu_seconds_including_children": round(usage.ru_utime + usage.ru_stime, 1),
        "torch_threads": torch.get_num_threads(),
    }
    image, audio = models["image"], models["audio"]
    assert isinstance(image, ImageEncoder) and isinstance(audio, AudioEncoder)
    save_weights(args.out, image, audio, config, report)
    print(
        f"wrote {args.out / WEIGHTS_FILE} ({(args.out / WEIGHTS_FILE).stat().st_size / 1e6:.1f} MB) and {CONFIG_FILE}; "
        f"time {report['training_time']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
