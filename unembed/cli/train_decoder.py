"""`unembed train-decoder`: train a decoder from a space's text embeddings to text (unembed.decoder)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from .. import checks
from ..decoder import TrainingSettings, train_decoder


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-decoder",
        help="train a decoder that writes the text an embedding came from (the `decoder:DIR` generator)",
        description="Train a decoder on captions embedded with --space. One caption in 50 (by a hash of its text) is never trained "
        "on: benchmarks draw held-out targets from those. Resumable: run the same command again after Ctrl-C.",
    )
    parser.add_argument("--space", default="minilm", help="space spec whose text embeddings it reads (default minilm)")
    parser.add_argument(
        "--from", dest="sources", nargs="+", required=True, metavar="FILE_OR_SOURCE", help="caption files or named sources: mils-image, ..."
    )
    parser.add_argument("--out", required=True, type=Path, help="the decoder's folder (config.json, model.safetensors, tokenizer.json)")
    parser.add_argument("--exclude", nargs="+", default=[], metavar="FILE_OR_SOURCE", help="captions never to train on (benchmark targets)")
    parser.add_argument("--budget-minutes", type=float, default=None, help="stop after this long and write the decoder as it stands")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a decoder in --out trained on other captions or settings (without it: refused; the same training resumes)",
    )
    defaults = TrainingSettings()
    for field in dataclasses.fields(TrainingSettings):
        default = getattr(defaults, field.name)
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(default), default=default, help=f"(default {default})")
    parser.set_defaults(run=run, resumes=True)


def run(args) -> int:
    if args.threads is not None:
        checks.count(args.threads, "--threads")
    if args.threads:  # the command owns its process; the library leaves torch's threads as the caller set them
        torch.set_num_threads(args.threads)
    settings = TrainingSettings(**{field.name: getattr(args, field.name) for field in dataclasses.fields(TrainingSettings)})
    decoder = train_decoder(
        args.space,
        args.sources,
        args.out,
        exclude=args.exclude,
        settings=settings,
        budget_minutes=args.budget_minutes,
        overwrite=args.overwrite,
    )
    training = decoder.config["training"]
    state = "finished" if training["finished"] else f"stopped by the budget at step {training['steps']} of {training['planned_steps']}"
    print(
        f"decoder for {decoder.space} in {args.out}: {training['captions']} captions, {training['epochs']} epochs in "
        f"{training['seconds'] / 60:.1f} min ({state}); validation loss {training['validation_loss']:.3f}"
    )
    print(f"use it: unembed invert ... --space {decoder.space} --generator decoder:{args.out}+edit")
    return 0
