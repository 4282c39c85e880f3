"""`unembed invert`: say in words what an embedding (or an image/audio/text embedded on the fly) means."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..generators import CombinedGenerator, default_generator, load_generator
from ..generators.edit import EditGenerator, words_of
from ..index import resolve_bank
from ..inverter import InversionResult, invert
from ..spaces import cache_for, input_of, load_space
from ..vectors import load_vectors, unit_rows
from .options import add_generation_options, inversion_options, refuse_blank_text, report_generator


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
    parser.add_argument(
        "--bank",
        default=None,
        help="bank folder, caption file or named source (mils-image, mils-audio, minibind-image, minibind-audio; "
        "default: the caption source the space names for the modality, e.g. MILS's for imagebind, "
        "its world's for minibind); named sources are built once and cached (unembed.paths)",
    )
    parser.add_argument(
        "--modality",
        choices=["image", "audio", "text"],
        default=None,
        help="which prompt and defaults (default: the input's; image for --vector)",
    )
    add_generation_options(parser)
    parser.add_argument("--json", help="write the full result (history included) to this JSON file")
    parser.add_argument("--plot", help="write the score trajectory to this PNG")
    parser.add_argument(
        "--why",
        metavar="TEXT",
        help="after inverting, say why the edit generator did not write TEXT: the rule of its table that "
        "refuses TEXT as an edit of the answer (and of the bank's best, if different), e.g. "
        "\"glue: 'in the left'\"; or, where none does, whether TEXT is one edit away and its score "
        "beside the answer's",
    )
    parser.set_defaults(run=run, reads=("input", "vector", "bank"), writes=("json", "plot"))


PLOT_FORMATS = frozenset({".png", ".pdf", ".svg", ".jpg", ".jpeg", ".webp"})  # what matplotlib's Agg writes


def run(args) -> int:
    given = [name for name in ("input", "vector", "text") if getattr(args, name) is not None]
    if args.plot and Path(args.plot).suffix.lower() not in PLOT_FORMATS:  # before the run, not after it
        raise InputError(f"--plot {args.plot}: a plot is written as {', '.join(sorted(PLOT_FORMATS))}. Give a path ending in one.")
    refuse_blank_text(args.text, "invert")
    if args.why is not None and not args.why.strip():
        raise InputError("--why is blank: give the text the edit generator did not write, e.g. --why 'a dog in the left'.")
    if args.input is not None and str(args.input).lower().endswith(".npy") and not os.path.isdir(args.input):
        raise InputError(f"{args.input} is a vector file: give it as --vector {args.input}.")
    if len(given) != 1:
        raise InputError("give exactly one of: an input FILE, --vector FILE.npy, --text TEXT.")
    options, bank = inversion_options(args), args.bank  # checked before the space loads
    space = load_space(args.space)
    if args.vector:
        embedding, modality = load_vectors(args.vector), "image"
    elif args.text:
        embedding, modality = space.embed_text([args.text])[0], "text"
    else:
        modality, path = input_of(args.input)
        embedding = space.embed(modality, [path])[0]
    if args.why:  # the bank's texts and the generator's grammar are read again to explain
        bank = resolve_bank(bank, space, args.modality or modality)
        options["generator"] = load_generator(options["generator"] or default_generator(space))
    result = invert(embedding, space=space, bank=bank, modality=args.modality or modality, progress=True, **options)
    print(f"{result.score:.3f}  {result.text}")
    print(f"(caption bank's best: {result.bootstrap_score:.3f}  {result.bootstrap_text})")
    if args.why:
        target = unit_rows(embedding)[0]
        assert result.config is not None  # the loop records its settings
        neighbours = bank.search(target, k=result.config.keep + result.config.neighbours).texts[0]  # as the loop found them

        def score(texts):
            return cache_for(space).embed(texts) @ target  # the loop's cache: its texts are encoded

        print(_why(args.why, result, options["generator"], bank.texts, neighbours, score))
    if args.json:
        result.to_json(args.json)
    if args.plot:
        result.plot(args.plot)
    return report_generator([result])


def _why(text: str, result: InversionResult, generator, corpus, neighbours, score) -> str:
    """Why the edit generator did not write `text`, from the answer and from the bank's best (EditGenerator.why)."""
    members = generator.generators if isinstance(generator, CombinedGenerator) else [generator]
    editor = next((member for member in members if isinstance(member, EditGenerator)), None) or EditGenerator()
    assert result.config is not None  # the loop records its settings
    longest = max([result.config.max_words, *(len(words_of(candidate)) for _, candidate in result.top)])
    parents = [("the answer", result.text, result.score)]
    if result.bootstrap_text != result.text:
        parents.append(("the bank's best", result.bootstrap_text, result.bootstrap_score))
    lines = [f'why not "{text}"? ({editor.spec}\'s rules)']
    for name, parent, value in parents:
        verdict = editor.why(text, parent, corpus, neighbours=neighbours, longest=max(longest, len(words_of(parent))), score=score)
        lines.append(f'  from {name} "{parent}" ({value:.3f}): {verdict}')
    return "\n".join(lines)
