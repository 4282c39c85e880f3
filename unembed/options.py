"""Command-line option groups shared by the CLI (unembed.cli) and the benchmarks (unembed.bench), defined once."""

from __future__ import annotations

import argparse

from .generators import DEFAULT_GENERATOR


def add_generation_options(parser: argparse.ArgumentParser) -> None:
    """The MILS loop's options (`unembed invert`, `unembed bench invert`); `inversion_options(args)` reads them."""
    parser.add_argument("--generator", default=DEFAULT_GENERATOR,
                        help=f"{DEFAULT_GENERATOR} (default: SmolLM2 and word recombination, offline), llama.cpp, "
                             "llama.cpp:/path/model.gguf, transformers:ID_OR_PATH, openai:MODEL@http://host:port/v1, "
                             "mutate; A+B pools several")
    parser.add_argument("--fallback", default=None, help="generator for steps the main one fails, e.g. mutate")
    parser.add_argument("--steps", type=int, default=None, help="optimisation steps (MILS: image 10, audio 19)")
    parser.add_argument("--requested", type=int, default=None, help="new texts asked per step (MILS: 50)")
    parser.add_argument("--keep", type=int, default=None, help="candidates kept between steps (MILS: image 50, audio 10)")
    parser.add_argument("--shown", type=int, default=None, help="candidates listed in the prompt (default: the generator's choice)")
    parser.add_argument("--patience", type=int, default=3, help="stop after this many steps without improvement (0: never)")
    parser.add_argument("--fluency-margin", type=float, default=0.0,
                        help="drop new texts less fluent (SmolLM2 log-likelihood per token) than the bank's best "
                             "minus this (default 0); the gate is on whenever mutate proposes")
    parser.add_argument("--fluency", dest="fluency", action="store_true", default=None,
                        help="gate on fluency even without mutate")
    parser.add_argument("--no-fluency", dest="fluency", action="store_false",
                        help="no fluency gate (pure MILS: the cosine alone decides)")
    parser.add_argument("--seed", type=int, default=0)


def inversion_options(args: argparse.Namespace) -> dict:
    """`invert_many` keyword arguments from the options of `add_generation_options`."""
    return dict(
        generator=args.generator, fallback=args.fallback, fluency=args.fluency, steps=args.steps, requested=args.requested,
        keep=args.keep, shown=args.shown, patience=args.patience or None, seed=args.seed, fluency_margin=args.fluency_margin,
    )
