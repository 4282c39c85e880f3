"""`unembed invert`: say in words what an embedding (or an image/audio/text embedded on the fly) means."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..generators import DEFAULT_GENERATOR


def add_generation_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `unembed invert` and `unembed bench invert`."""
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


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "invert",
        help="turn an embedding back into text (MILS loop)",
        description="Invert an embedding: bootstrap from a caption bank, then let an LLM propose better texts.",
    )
    parser.add_argument("input", nargs="?", help="an image or audio file, embedded with the space's encoder")
    parser.add_argument("--vector", help="a .npy file holding the embedding (dim,)")
    parser.add_argument("--text", help="a text to embed and invert (a round trip through the space)")
    parser.add_argument("--space", default="minilm", help="embedding space spec (default: minilm)")
    parser.add_argument("--bank", default=None,
                        help="bank folder, caption file or named source (mils-image, mils-audio, minibind-image, minibind-audio; "
                             "default: the modality's MILS bank, or MiniBind's world captions for --space minibind); named sources "
                             "are built once and cached under ~/.cache/unembed/banks")
    parser.add_argument("--modality", choices=["image", "audio", "text"], default=None,
                        help="which prompt and defaults (default: the input's; image for --vector)")
    add_generation_arguments(parser)
    parser.add_argument("--json", help="write the full result (history included) to this JSON file")
    parser.add_argument("--plot", help="write the score trajectory to this PNG")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..invert import invert
    from ..invert.inputs import default_bank_source, load_vector, resolve_bank
    from ..spaces import load_space
    from ..spaces.inputs import input_of

    given = [name for name in ("input", "vector", "text") if getattr(args, name)]
    if len(given) != 1:
        raise InputError("give exactly one of: an input FILE, --vector FILE.npy, --text TEXT.")
    space = load_space(args.space)
    if args.vector:
        embedding, modality = load_vector(args.vector), "image"
    elif args.text:
        embedding, modality = space.embed_text([args.text])[0], "text"
    else:
        modality, path = input_of(args.input)
        embedding = space.embed(modality, [path])[0]
    modality = args.modality or modality
    bank = resolve_bank(args.bank or default_bank_source(modality, space), space)
    result = invert(
        embedding, space=space, bank=bank, generator=args.generator, fallback=args.fallback, modality=modality,
        steps=args.steps, requested=args.requested, keep=args.keep, shown=args.shown,
        patience=args.patience or None, seed=args.seed, fluency=args.fluency, fluency_margin=args.fluency_margin, progress=True,
    )
    print(f"{result.score:.3f}  {result.text}")
    print(f"(caption bank's best: {result.bootstrap_score:.3f}  {result.bootstrap_text})")
    if args.json:
        result.to_json(args.json)
    if args.plot:
        result.plot(args.plot)
    return 0
