"""`train_decoder`: a decoder from a space's text embeddings to text, trained on captions.

    captions <- the sources' captions, less the held-out split (unembed.index.is_held_out) and `exclude`
    vectors  <- the space's text embeddings of them (checkpointed like a bank build: resumable)
    tokens   <- a byte-level BPE trained on the same captions
    repeat for `epochs`: next-token cross-entropy of each caption given its embedding, which gets a
             random nudge (`noise`) so the decoder reads neighbours of an embedding as well as the point

Everything lives in `out/.training/` until the decoder is written: the embeddings, the tokenizer and a
checkpoint (network, optimiser, step, clock, random state) written atomically every `checkpoint_seconds`
and on Ctrl-C, so the same call resumes where it stopped. A `budget_minutes` that runs out writes the
decoder as it stands (its config says so) and a longer budget resumes it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import platform
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from torch.nn import functional as F
from tqdm.auto import tqdm

from .. import atomic, checks, jsontext
from ..errors import DecoderError, InputError
from ..index import HELD_OUT_SHARE, build_bank, collect_captions, is_held_out
from ..index.bank import texts_sha256
from ..spaces import Space, load_space
from ..version import __version__
from .decoder import BOS, CONFIG, EOS, PAD, TOKENIZER, WEIGHTS, Decoder, load_decoder, special_ids
from .model import Architecture, DecoderNetwork

log = logging.getLogger(__name__)
WORK = ".training"
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainingSettings:
    """The network's size and how it is trained; recorded in the decoder's config."""

    width: int = 256
    layers: int = 4
    heads: int = 4
    prefix: int = 8
    context: int = 40  # tokens; longer captions are left out (and counted)
    vocab: int = 6000
    epochs: int = 8
    batch: int = 128
    learning_rate: float = 1.5e-3
    warmup: int = 300  # steps
    noise: float = 0.4  # an embedding moves by up to this norm (then is normalised) before the decoder reads it
    dropout: float = 0.1
    validation: int = 500  # captions kept out of training to report a validation loss
    seed: int = 0

    def __post_init__(self):
        # Each in a range a decoder can be trained in: `epochs 0` wrote an untrained decoder, `prefix 0` one that never
        # reads the embedding, `width 1000000` took gigabytes before the first step.
        counts = {"width": (8, 4096), "layers": (1, 48), "heads": (1, 64), "prefix": (1, 64), "context": (4, 512),
                  "vocab": (50, 200_000), "epochs": (1, 1000), "batch": (1, 8192), "warmup": (0, 1_000_000),
                  "validation": (1, 1_000_000)}  # fmt: skip
        for name, (low, high) in counts.items():
            object.__setattr__(self, name, checks.count(getattr(self, name), name, minimum=low, maximum=high))
        if self.width % self.heads:
            raise InputError(f"width ({self.width}) must be a multiple of heads ({self.heads}): each head reads width / heads.")
        for name, lowest, highest in (("learning_rate", 0.0, 1.0), ("noise", 0.0, 2.0), ("dropout", 0.0, 1.0)):
            value = checks.number(getattr(self, name), name)
            if not lowest <= value <= highest or (name == "learning_rate" and value == 0) or (name == "dropout" and value == 1):
                bound = f"{lowest:g}..{highest:g}" + (" (not 0)" if name == "learning_rate" else " (not 1)" if name == "dropout" else "")
                raise InputError(f"{name} must be in {bound}; got {value!r}.")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "seed", checks.seed(self.seed))


def train_decoder(
    space: Space | str,
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    exclude: Sequence[str | os.PathLike] = (),
    settings: TrainingSettings = TrainingSettings(),
    budget_minutes: float | None = None,
    checkpoint_seconds: float = 120.0,
    progress: bool = True,
    overwrite: bool = False,
) -> Decoder:
    """Train a decoder for `space` on the captions of `sources` (files or named sources) and write it to `out`.

    exclude: caption files (or named sources) whose captions are never trained on, e.g. the targets of a benchmark.
    overwrite: replace a decoder in `out` trained on other captions or settings (or files of a decoder's names that
    are not one); without it they are refused, while the same training resumes (or is written again).
    """
    if budget_minutes is not None and checks.number(budget_minutes, "budget_minutes") < 0:
        raise InputError(f"budget_minutes must be 0 or more (0: stop after the first step, to resume later); got {budget_minutes!r}.")
    space = load_space(space)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file. Give a folder for the decoder.")
    if not overwrite:
        _refuse_other_files(out)
    captions, excluded, record = _captions(sources, exclude)
    if not overwrite and _holds_this_decoder_finished(out, space, record, settings):  # before any work: embedding takes minutes
        log.info("%s already holds this decoder, trained to the end: nothing to do (--overwrite trains it again)", out)
        return load_decoder(out, space)
    work = out / WORK
    vectors = _embeddings(captions, space, work)
    tokenizer = _tokenizer(captions, settings, work)
    ids = [encoding.ids for encoding in tokenizer.encode_batch(captions)]
    pad, bos, eos = special_ids(tokenizer)
    keep = [i for i, row in enumerate(ids) if len(row) + 1 <= settings.context]
    record["too_long"] = len(captions) - len(keep)
    tokens, lengths = _padded([ids[i] + [eos] for i in keep], settings.context, pad)
    vectors = vectors[keep]
    order = np.random.default_rng(settings.seed).permutation(len(keep))
    validation, training = order[: settings.validation], order[settings.validation :]
    if len(training) < settings.batch:
        raise DecoderError(
            f"{len(training)} captions are left to train on, fewer than one batch ({settings.batch}): of the {len(keep)} "
            f"usable captions, {len(validation)} are held for validation (--validation {settings.validation}). Give more "
            "captions, a smaller --validation or a smaller --batch."
        )

    architecture = Architecture(
        dim=space.dim,
        vocab=tokenizer.get_vocab_size(),
        width=settings.width,
        layers=settings.layers,
        heads=settings.heads,
        prefix=settings.prefix,
        context=settings.context,
    )
    torch.manual_seed(settings.seed)
    network = DecoderNetwork(architecture, dropout=settings.dropout)
    optimiser = torch.optim.AdamW(network.parameters(), lr=settings.learning_rate, weight_decay=0.01)
    steps_per_epoch = len(training) // settings.batch
    total = steps_per_epoch * settings.epochs
    fingerprint = _fingerprint(space, captions, settings)
    state = _resume(work / CHECKPOINT, fingerprint, network, optimiser)
    step, seconds = state["step"], state["seconds"]

    def checkpoint() -> None:
        _save_checkpoint(work / CHECKPOINT, fingerprint, network, optimiser, step, seconds + time.perf_counter() - started)

    started, saved = time.perf_counter(), time.perf_counter()
    batches, batches_epoch = [], -1
    budget = None if budget_minutes is None else budget_minutes * 60
    network.train()
    bar = tqdm(total=total, initial=step, desc=f"train decoder ({space.spec})", unit="step", disable=not progress)
    try:
        while step < total:
            if budget is not None and seconds + time.perf_counter() - started >= budget:
                break
            epoch, position = divmod(step, steps_per_epoch)
            if batches_epoch != epoch:
                batches, batches_epoch = _batches(training, lengths, settings.batch, np.random.default_rng([settings.seed, epoch])), epoch
            rows = batches[position]
            loss = _loss(network, vectors, tokens, lengths, rows, settings, bos, np.random.default_rng([settings.seed, step]))
            for group in optimiser.param_groups:
                group["lr"] = _learning_rate(step, total, settings)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimiser.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", epoch=epoch + 1)
            if time.perf_counter() - saved >= checkpoint_seconds:
                checkpoint()
                saved = time.perf_counter()
    except KeyboardInterrupt:
        checkpoint()
        bar.close()
        log.warning("interrupted at step %d of %d; the same command resumes from %s", step, total, work / CHECKPOINT)
        raise
    bar.close()
    checkpoint()
    seconds += time.perf_counter() - started
    network.eval()
    with torch.inference_mode():
        validation_loss = float(_loss(network, vectors, tokens, lengths, validation, settings, bos, None)) if len(validation) else None
    config = {
        "space": space.spec,
        "dim": space.dim,
        "data": record,
        "excluded": excluded,
        "settings": asdict(settings),
        "training": {
            "steps": step,
            "planned_steps": total,
            "finished": step >= total,
            "epochs": round(step / max(steps_per_epoch, 1), 2),
            "captions": len(training),
            "validation_captions": len(validation),
            "validation_loss": validation_loss,
            "seconds": round(seconds, 1),
            "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        },
        "unembed": __version__,
    }
    decoder = Decoder(network, tokenizer, config, out)
    decoder.save(out)
    if step >= total:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log.warning("the time budget ran out at step %d of %d: the decoder is written as it stands; a longer one resumes it", step, total)
    return decoder


def _refuse_other_files(out: Path) -> None:
    """A decoder's three files replace only a decoder's: a folder holding a config.json (or tokenizer.json, weights)
    that is not a decoder's config is someone else's, and maybe this run's own captions."""
    held = [name for name in (CONFIG, TOKENIZER, WEIGHTS) if (out / name).exists()]
    if not held:
        return
    try:
        # A FIFO would block the read: only a regular file can be a decoder's config.
        config = jsontext.parse((out / CONFIG).read_text(encoding="utf-8")) if (out / CONFIG).is_file() else None
        ours = isinstance(config, dict) and "architecture" in config and "space" in config
    except (OSError, ValueError):
        ours = False
    if not ours:
        raise InputError(
            f"--out {out} holds {', '.join(held)} that are not a decoder's: training would replace them. Give another folder, "
            "or pass --overwrite (overwrite=True) to replace them."
        )


def _holds_this_decoder_finished(out: Path, space: Space, record: dict, settings: TrainingSettings) -> bool:
    """True where `out` holds the decoder this training writes, finished (run again, it has nothing to do). A decoder in
    `out` is replaced only by the training that wrote it (which resumes it): one of another space, other captions or
    other settings is someone's finished work, refused without `overwrite`."""
    if not (out / CONFIG).is_file():
        return False
    try:
        config = jsontext.parse((out / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no decoder there (_refuse_other_files has refused files of its names)
        return False
    if not isinstance(config, dict):
        return False
    data, old, training = (value if isinstance(value := config.get(key), dict) else {} for key in ("data", "settings", "training"))
    new = asdict(settings)
    differences = [f"space {config.get('space')}"] if (config.get("space"), config.get("dim")) != (space.spec, space.dim) else []
    if data.get("sha256") != record["sha256"]:
        sources = ", ".join(map(str, data.get("sources") or [])) or "?"
        differences.append(f"{data.get('captions')} other captions, from {sources}")
    settings_differ = [f"--{name.replace('_', '-')} {old.get(name)}" for name in new if old.get(name) != new[name]]
    if settings_differ:
        differences.append(", ".join(settings_differ))
    finished = training.get("finished") is True
    if not differences:
        return finished and (out / WEIGHTS).is_file() and (out / TOKENIZER).is_file()
    raise InputError(
        f"--out {out} holds {'a finished' if finished else 'an unfinished'} decoder trained otherwise (its "
        f"{'; its '.join(differences)}): training this one would replace it. Give another folder, or pass --overwrite "
        f"(overwrite=True) to replace it.{'' if finished else ' The command that trained it resumes it.'}"
    )


def _captions(sources, exclude) -> tuple[list[str], dict, dict]:
    """The captions to train on; what was left out and why; where they came from."""
    if not sources:
        raise InputError("train-decoder needs captions: --from mils-image, --from my_captions.txt, ...")
    try:
        captions = collect_captions(sources)
    except InputError as error:
        raise DecoderError(f"no captions to train on: {error}") from error
    excluded_texts = {text.lower() for text in collect_captions(exclude)} if exclude else set()
    held_out = [text for text in captions if is_held_out(text)]
    named = [text for text in captions if text.lower() in excluded_texts and not is_held_out(text)]
    left_out = set(held_out) | set(named)
    kept = [text for text in captions if text not in left_out]
    if not kept:
        raise DecoderError(
            f"every one of the {len(captions)} captions is excluded ({len(named)} by --exclude, {len(held_out)} by the held-out split). "
            "Give captions that the exclusions do not hold."
        )
    excluded = {
        "held_out_split": f"1 in {HELD_OUT_SHARE} captions by a hash of the text (unembed.index.is_held_out)",
        "held_out": len(held_out),
        "files": [str(path) for path in exclude],
        "by_files": len(named),
        "sha256": texts_sha256(sorted(left_out)),
    }
    record = {"sources": [str(source) for source in sources], "captions": len(kept), "sha256": texts_sha256(kept)}
    return kept, excluded, record


def _embeddings(captions: list[str], space: Space, work: Path) -> np.ndarray:
    """The captions' text embeddings, built (and checkpointed, resumable) as a bank in the work folder."""
    bank = build_bank(space=space, texts=captions, out=work / "embeddings", overwrite=True)
    return bank.index.reconstruct_n(0, bank.index.ntotal)


def _tokenizer(captions: list[str], settings: TrainingSettings, work: Path) -> Tokenizer:
    path = work / "tokenizer.json"
    if path.is_file():
        return Tokenizer.from_file(str(path))
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=settings.vocab, special_tokens=[PAD, BOS, EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(captions, trainer)
    atomic.write_text(path, tokenizer.to_str())
    return tokenizer


def _padded(rows: list[list[int]], context: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.full((len(rows), context), pad, dtype=np.int64)
    for i, row in enumerate(rows):
        tokens[i, : len(row)] = row
    return tokens, np.array([len(row) for row in rows])


def _batches(rows: np.ndarray, lengths: np.ndarray, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of rows of similar length (less padding), in shuffled order."""
    rows = rng.permutation(rows)
    pool = size * 50
    grouped = np.concatenate([chunk[np.argsort(lengths[chunk], kind="stable")] for chunk in np.split(rows, range(pool, len(rows), pool))])
    batches = [grouped[start : start + size] for start in range(0, len(grouped) - size + 1, size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _loss(network, vectors, tokens, lengths, rows, settings, bos: int, rng: np.random.Generator | None) -> torch.Tensor:
    """Mean next-token cross-entropy of `rows`; with `rng`, their embeddings are nudged first (training)."""
    embeddings = vectors[rows]
    if rng is not None and settings.noise > 0:
        direction = rng.standard_normal(embeddings.shape).astype(np.float32)
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        embeddings = embeddings + direction * rng.uniform(0, settings.noise, (len(rows), 1)).astype(np.float32)
        embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    length = int(lengths[rows].max())
    target = torch.from_numpy(tokens[rows, :length])
    given = torch.cat([torch.full((len(rows), 1), bos, dtype=torch.long), target[:, :-1]], dim=1)
    logits = network(torch.from_numpy(np.ascontiguousarray(embeddings)), given)
    mask = torch.arange(length)[None, :] < torch.from_numpy(lengths[rows])[:, None]
    return F.cross_entropy(logits[mask], target[mask])


def _learning_rate(step: int, total: int, settings: TrainingSettings) -> float:
    if step < settings.warmup:
        return settings.learning_rate * (step + 1) / settings.warmup
    progress = (step - settings.warmup) / max(total - settings.warmup, 1)
    return settings.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def _fingerprint(space: Space, captions: list[str], settings: TrainingSettings) -> str:
    """What a checkpoint must match to be resumed: the space, the captions and the settings."""
    return hashlib.sha256(f"{space.spec}\n{space.dim}\n{texts_sha256(captions)}\n{sorted(asdict(settings).items())}".encode()).hexdigest()


def _save_checkpoint(path: Path, fingerprint: str, network, optimiser, step: int, seconds: float) -> None:
    buffer = io.BytesIO()
    torch.save(
        {
            "fingerprint": fingerprint,
            "network": network.state_dict(),
            "optimiser": optimiser.state_dict(),
            "step": step,
            "seconds": seconds,
            "torch_rng": torch.get_rng_state(),
        },
        buffer,
    )
    atomic.write_bytes(path, buffer.getvalue())


def _resume(path: Path, fingerprint: str, network, optimiser) -> dict:
    """The step and clock to continue from: a matching checkpoint's (loaded into the network), else the start."""
    if not path.is_file():
        return {"step": 0, "seconds": 0.0}
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a checkpoint cut short by a crash: start again rather than fail
        log.warning("the checkpoint %s cannot be read (%s); training starts from the beginning", path, error)
        return {"step": 0, "seconds": 0.0}
    if state.get("fingerprint") != fingerprint:
        log.warning("the checkpoint %s is of other captions or settings; training starts from the beginning", path)
        return {"step": 0, "seconds": 0.0}
    network.load_state_dict(state["network"])
    optimiser.load_state_dict(state["optimiser"])
    torch.set_rng_state(state["torch_rng"])
    log.info("resuming from step %d (%s)", state["step"], path)
    return {"step": int(state["step"]), "seconds": float(state["seconds"])}
